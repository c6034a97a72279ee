#!/usr/bin/python
"""Module highload.cluster.toggle_node: switch a backend pod on or off through its /api/turn."""

from __future__ import annotations

DOCUMENTATION = r"""
module: toggle_node
short_description: Switch a highload backend on or off, and wait until the balancer has noticed
version_added: 0.2.0
description:
  - Reads the backend's C(GET /api/status) first and posts to C(POST /api/turn?state=...) only when the
    node is not already in O(state), so C(changed) says whether the node was really switched.
  - With O(balancer_status_url) and O(peer), waits (bounded by O(wait_timeout)) until the balancer's active
    health checker (lua-resty-upstream-healthcheck's status page) shows the peer DOWN after switching off,
    or UP after switching on.
options:
  url:
    description:
      - The backend's base URL, such as V(http://10.110.0.2) (through its nginx sidecar, which admits
        C(/api/turn) from the admin networks only) or V(http://127.0.0.1:5000) on the node itself.
    type: str
    required: true
  state:
    description: V(on) the node serves; V(off) it answers 503 and the balancer takes it out.
    type: str
    choices: ["on", "off"]
    required: true
  token:
    description:
      - The backend's admin token (C(backend_admin_token)), sent as C(Authorization Bearer).
      - Defaults to the environment variable E(HIGHLOAD_ADMIN_TOKEN). Never shown in output.
    type: str
  timeout:
    description: Seconds each HTTP request may take.
    type: int
    default: 10
  balancer_status_url:
    description: The balancer's health status page, such as V(http://10.110.0.5:8090/status). No wait without it.
    type: str
  peer:
    description: The node as the balancer's upstream lists it, V(ADDRESS:PORT), such as V(10.110.0.2:80).
    type: str
  wait_timeout:
    description: Seconds to wait for the balancer to show the peer's new state.
    type: int
    default: 30
  validate_certs:
    description: Verify TLS certificates of HTTPS URLs.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads the node's state and reports whether it would be switched; posts nothing.
  diff_mode:
    support: full
    description: The node's status before and after.
author:
  - highload.cluster developers (@highload-cluster)
"""

EXAMPLES = r"""
- name: Switch backend-2 off and wait until the balancer marks it down
  highload.cluster.toggle_node:
    url: http://10.110.0.3
    state: "off"
    token: "{{ backend_admin_token }}"
    balancer_status_url: http://10.110.0.5:8090/status
    peer: 10.110.0.3:80
  delegate_to: localhost

- name: Switch it on again from the node itself
  highload.cluster.toggle_node:
    url: http://127.0.0.1:5000
    state: "on"
    token: "{{ backend_admin_token }}"
"""

RETURN = r"""
status:
  description: The node's state after the task (in check mode, before it).
  returned: success
  type: str
  sample: "off"
previous:
  description: The node's state before the task.
  returned: success
  type: str
  sample: "on"
balancer_status:
  description: The peer's state on the balancer's status page after waiting (V(UP) or V(DOWN)).
  returned: when O(balancer_status_url) is given and not in check mode
  type: str
  sample: DOWN
waited:
  description: Seconds from the switch until the balancer showed the peer's new state.
  returned: when O(balancer_status_url) is given and not in check mode
  type: float
  sample: 2.1
"""

import json
import os
import re
import time
from typing import Any, Dict, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

# A peer line of lua-resty-upstream-healthcheck's status_page(): "        10.0.0.2:80 DOWN".
PEER_LINE = re.compile(r"^\s*(?P<peer>\S+)\s+(?P<state>UP|DOWN)\b")
POLL_SECONDS = 0.5


def peer_state(page: str, peer: str) -> Optional[str]:
    """UP or DOWN for the peer on a status page, None when the page does not list it."""
    for line in page.splitlines():
        match = PEER_LINE.match(line)
        if match and match.group("peer") == peer:
            return match.group("state")
    return None


class Node:
    """The backend's admin API as seen from the module."""

    def __init__(self, module: AnsibleModule, url: str, token: str) -> None:
        self.module = module
        self.url = url.rstrip("/")
        self.token = token

    def request(self, method: str, path: str) -> Tuple[int, Dict[str, Any]]:
        headers = {"Authorization": "Bearer %s" % self.token} if self.token else {}
        response, info = fetch_url(
            self.module, self.url + path, method=method, headers=headers, timeout=self.module.params["timeout"]
        )
        # For an error status fetch_url has read the body into info already.
        raw = info["body"] if "body" in info else (response.read() if response else b"")
        status = int(info.get("status", -1))
        if status < 0:
            self.module.fail_json(msg="%s %s%s: %s" % (method, self.url, path, info.get("msg")))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        return status, body if isinstance(body, dict) else {}

    def state(self) -> str:
        status, body = self.request("GET", "/api/status")
        if body.get("status") in ("on", "off"):
            return body["status"]
        self.module.fail_json(
            msg="GET %s/api/status answered %s without an on/off status: is this a highload "
            "backend?" % (self.url, status)
        )
        raise AssertionError("unreachable")

    def turn(self, state: str) -> str:
        status, body = self.request("POST", "/api/turn?state=%s" % state)
        if status == 401:
            self.module.fail_json(
                msg="%s/api/turn refused the admin token (401): give token (backend_admin_token) "
                "or HIGHLOAD_ADMIN_TOKEN" % self.url
            )
        if status == 403:
            self.module.fail_json(
                msg="%s/api/turn answered 403: this host is not in the node's admin allow-list "
                "(nginx_sidecar_admin_allow)" % self.url
            )
        if status != 200 or body.get("status") != state:
            self.module.fail_json(msg="POST %s/api/turn?state=%s answered %s %s" % (self.url, state, status, body))
        return body["status"]


def wait_for_balancer(module: AnsibleModule, state: str, changed: bool) -> Tuple[str, float]:
    """Poll the balancer's status page until the peer shows the state's UP/DOWN; fail after wait_timeout."""
    params = module.params
    want = "UP" if state == "on" else "DOWN"
    started = time.monotonic()
    seen: Optional[str] = None
    while True:
        response, info = fetch_url(module, params["balancer_status_url"], timeout=params["timeout"])
        if response is not None:
            seen = peer_state(response.read().decode("utf-8", "replace"), params["peer"])
            if seen == want:
                return seen, round(time.monotonic() - started, 2)
        waited = time.monotonic() - started
        if waited >= params["wait_timeout"]:
            module.fail_json(
                msg="the balancer (%s) did not show %s as %s within %ss; it shows %s (last answer %s)"
                % (
                    params["balancer_status_url"],
                    params["peer"],
                    want,
                    params["wait_timeout"],
                    seen or "no such peer",
                    info.get("status"),
                ),
                changed=changed,
            )
        time.sleep(POLL_SECONDS)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "state": {"type": "str", "required": True, "choices": ["on", "off"]},
            "token": {"type": "str", "no_log": True},
            "timeout": {"type": "int", "default": 10},
            "balancer_status_url": {"type": "str"},
            "peer": {"type": "str"},
            "wait_timeout": {"type": "int", "default": 30},
            "validate_certs": {"type": "bool", "default": True},
        },
        required_together=[("balancer_status_url", "peer")],
        supports_check_mode=True,
    )
    params = module.params
    token = params["token"] or os.environ.get("HIGHLOAD_ADMIN_TOKEN", "")
    if token:
        module.no_log_values.add(token)
    node = Node(module, params["url"], token)
    previous = node.state()
    changed = previous != params["state"]
    result: Dict[str, Any] = {
        "changed": changed,
        "previous": previous,
        "status": previous,
        "diff": {"before": {"status": previous}, "after": {"status": params["state"]}},
    }
    if module.check_mode:
        module.exit_json(**result)
    if changed:
        result["status"] = node.turn(params["state"])
    if params["balancer_status_url"]:
        result["balancer_status"], result["waited"] = wait_for_balancer(module, params["state"], changed)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
