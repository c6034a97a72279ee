"""One run of a DigitalOcean module: what every such module does the same way.

- create once, and adopt after a lost answer: a create is sent once; when it fails in a way
  where DigitalOcean may have acted (a 5xx, a reset, no answer in time), the module looks
  again and adopts the one record that appeared; several fail the task naming them; none
  fails it saying that one may still appear and that a re-run is safe (it looks first);
- delete, idempotent: retried as DELETE is; a 404 means someone else was first; after an
  ambiguous failure the record is read back before the task reports;
- refusing duplicates: a task that finds several records where it manages one changes nothing
  and names them;
- the diff: before and after, a missing record as state absent.

A module's own class holds its documentation's calls (the create body, the lookup); this
class holds the rest.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, NoReturn, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    DigitalOceanClient,
    DigitalOceanError,
)

Record = Dict[str, Any]
# Lookups after an ambiguous create, for a record that DigitalOcean lists a moment late.
ADOPT_LOOKUPS = 3
POLL_SECONDS = 2.0


def ids(records: List[Record], key: str = "id") -> str:
    return ", ".join(str(record.get(key)) for record in records)


class DigitalOceanTask:
    """The state shared by a module's run: the module, its client and deadline, and whether anything changed."""

    # What the records are called in messages ("droplet"), and the key that names one of them ("id").
    kind = "record"
    id_key = "id"

    def __init__(self, module: AnsibleModule, client: DigitalOceanClient) -> None:
        self.module = module
        self.params = module.params
        self.client = client
        self.deadline = client.deadline
        self.changed = False

    @property
    def name(self) -> str:
        """The record as messages name it, in a module with the options name and id (droplet, firewall): its name,
        else "with id N" when the task deletes one by its id."""
        return self.params.get("name") or "with id %s" % self.params.get("id")

    def lookup(self) -> Optional[Record]:
        """The one record the task manages, None when there is none."""
        raise NotImplementedError

    def present(self, existing: Optional[Record]) -> Dict[str, Any]:
        raise NotImplementedError

    def absent(self, existing: Optional[Record]) -> Dict[str, Any]:
        raise NotImplementedError

    def run(self) -> Dict[str, Any]:
        """The lookup, then the one change the state asks for: the module's result."""
        existing = self.lookup()
        if self.params["state"] == "absent":
            return self.absent(existing)
        return self.present(existing)

    @staticmethod
    def diff(before: Optional[Record], after: Optional[Record]) -> Dict[str, Any]:
        return {"before": before or {"state": "absent"}, "after": after or {"state": "absent"}}

    def refuse_duplicates(self, found: List[Record], what: str, advice: str) -> Optional[Record]:
        """The one record found, None for none; several fail the task naming their ids and change nothing more."""
        if len(found) > 1:
            self.fail(
                "%d %s (%ss %s); %s" % (len(found), what, self.id_key, ids(found, self.id_key), advice),
            )
        return found[0] if found else None

    def fail(self, msg: str) -> NoReturn:
        self.module.fail_json(msg=msg, changed=self.changed)
        raise AssertionError("unreachable")  # fail_json exits

    def create_once(
        self,
        post: Callable[[], Record],
        find: Callable[[], List[Record]],
        what: str,
        looked_up_by: str,
        *,
        lookups: int = ADOPT_LOOKUPS,
        adopt_when: Callable[[DigitalOceanError], bool] = lambda failure: False,
    ) -> Record:
        """The record `post()` made (sent once); after an ambiguous failure, or one that `adopt_when` names,
        the one record `find()` lists then.

        `what` names the record in messages ("droplet backend-1"), `looked_up_by` what find() looks for
        ("the name").
        """
        try:
            record = post()
        except DigitalOceanError as exc:
            if not (exc.ambiguous or adopt_when(exc)):
                raise
            record = self._adopt_after(exc, find, what, looked_up_by, lookups)
        self.changed = True
        return record

    def _adopt_after(
        self, failure: DigitalOceanError, find: Callable[[], List[Record]], what: str, looked_up_by: str, lookups: int
    ) -> Record:
        may_appear = (
            "; a %s may still appear: running the task again is safe (it looks %s up first and never creates a "
            "second one)" % (self.kind, looked_up_by)
        )
        for attempt in range(lookups):
            try:
                found = find()
            except DigitalOceanError as lookup_failure:
                failure.message += "; looking %s up afterwards failed too (%s)%s" % (
                    looked_up_by,
                    lookup_failure,
                    may_appear if failure.ambiguous else "",
                )
                raise failure from None
            if found:
                self.changed = True
                adopted = self.refuse_duplicates(
                    found,
                    "%ss match %s after a create without a clear answer" % (self.kind, what),
                    "delete the extra ones",
                )
                if failure.ambiguous:  # not for an answer that says it exists already (adopt_when)
                    self.module.warn(
                        "%s: the create request failed without a clear answer (%s), but DigitalOcean made it (%s %s): "
                        "adopted, no second one created"
                        % (what, failure, self.id_key, (adopted or {}).get(self.id_key))
                    )
                return adopted or {}
            if attempt + 1 < lookups and self.deadline.remaining() > POLL_SECONDS:
                self.deadline.sleep(POLL_SECONDS)
        if failure.ambiguous:
            failure.message += "; the create request may still have been carried out, but none is listed yet"
            failure.message += may_appear
        raise failure

    def delete_once(self, path: str, expect: str) -> bool:
        """DELETE `path` (retried, as DELETE is idempotent); after an ambiguous failure, read it back.

        True when this run deleted it, False when it was gone already (someone else was first).
        """
        try:
            self.client.delete(path)
        except DigitalOceanError as exc:
            if exc.status == 404:
                return False
            if not exc.ambiguous:
                raise
            try:
                still = self.client.get_or_none(path, expect=expect)
            except DigitalOceanError as lookup_failure:
                exc.message += (
                    "; the delete may have been carried out, and reading the %s back afterwards failed too (%s): "
                    "running the task again is safe" % (self.kind, lookup_failure)
                )
                raise exc from None
            if still is not None:
                raise
        self.changed = True
        return True
