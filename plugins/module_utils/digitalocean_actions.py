"""DigitalOcean actions (a droplet's power action, a reserved IP's assignment): started once, found, waited for.

An action is a POST to a resource's ``.../actions`` that answers with an action to
poll. Such a POST is never sent twice blindly: one already in progress is waited
for instead, and after an ambiguous failure the resource's action list (and its
state) is read back before anything is sent again.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    Deadline,
    DigitalOceanClient,
    DigitalOceanError,
)

Records = List[Dict[str, Any]]  # records (droplets, actions, ...) as the API lists them
# Polls of a wait: soon at first (what is waited for is often there within seconds), then
# further apart, up to POLL_MAX_SECONDS, so that a long wait costs few calls against the rate limit.
POLL_FIRST_SECONDS = 0.5
POLL_MAX_SECONDS = 5.0


def poll_intervals() -> Iterator[float]:
    """0.5, 0.75, 1.1, ... seconds, growing by half each time, at most POLL_MAX_SECONDS."""
    interval = POLL_FIRST_SECONDS
    while True:
        yield interval
        interval = min(interval * 1.5, POLL_MAX_SECONDS)


def newest_action(
    actions: Records, kind: str, after_id: int = 0, status: Optional[str] = None
) -> Optional[Dict[str, Any]]:
    """The newest action of this type (newer than after_id, in this status when given), or None."""
    found = [
        action
        for action in actions
        if action.get("type") == kind
        and int(action.get("id") or 0) > after_id
        and (status is None or action.get("status") == status)
    ]
    return max(found, key=lambda action: int(action["id"])) if found else None


def latest_action_id(actions: Records) -> int:
    """The id of the newest of these actions (0 when there is none): what came before a request of ours."""
    return max([int(action.get("id") or 0) for action in actions] or [0])


def wait_for_action(client: DigitalOceanClient, action_id: int, deadline: Deadline) -> Dict[str, Any]:
    """Poll an action until it is completed; an errored action is a DigitalOceanError that says so."""
    intervals = poll_intervals()
    while True:
        action = client.get("actions/%s" % action_id, expect="action")["action"]
        if action.get("status") == "completed":
            return action
        if action.get("status") == "errored":
            raise DigitalOceanError(
                "DigitalOcean's action %s (%s) errored: the %s's state did not change"
                % (action_id, action.get("type"), action.get("resource_type") or "resource"),
                error_id="errored",
            )
        deadline.pause("action %s (%s) to complete" % (action_id, action.get("type")), next(intervals))


def start_action(
    client: DigitalOceanClient,
    resource: str,
    body: Dict[str, Any],
    listed_as: str,
    reached: Callable[[], bool],
) -> Tuple[Optional[Dict[str, Any]], bool]:
    """Start the action `body` on `resource` (a path such as ``droplets/3164444``) once: (action, posted).

    An action of the type DigitalOcean lists it as (`listed_as`: ``power_off``, ``assign_ip``) that is
    still in progress is returned and nothing is posted (posted is False). After an ambiguous failure the
    action list is read again: the action that request started, else None when `reached()` says the
    resource is already where the action takes it; otherwise the failure, saying that a re-run is safe.
    """
    path = "%s/actions" % resource
    actions = client.list_all(path, "actions")
    pending = newest_action(actions, listed_as, status="in-progress")
    if pending is not None:  # an earlier run's request is still being carried out: wait for it, post nothing
        return pending, False
    before = latest_action_id(actions)
    try:
        return client.post(path, body, expect="action")["action"], True
    except DigitalOceanError as exc:
        if not exc.ambiguous:
            raise
        failure = exc
    kind = body["type"]
    try:
        started = newest_action(client.list_all(path, "actions"), listed_as, after_id=before)
        done = started is None and reached()
    except DigitalOceanError as lookup_failure:
        failure.message += (
            "; the %s request may have been carried out, and reading the actions afterwards failed too (%s): "
            "running the task again is safe (it reads them first)" % (kind, lookup_failure)
        )
        raise failure from None
    if started is not None or done:
        return started, True
    failure.message += (
        "; the %s request may still be carried out, but no such action is listed yet: running the task "
        "again is safe (it reads the state first)" % kind
    )
    raise failure
