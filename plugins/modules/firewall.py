#!/usr/bin/python
"""Module highload.cluster.firewall: one DigitalOcean Cloud Firewall, found by its exact name."""

from __future__ import annotations

DOCUMENTATION = r"""
module: firewall
short_description: Create, update or delete one DigitalOcean Cloud Firewall, found by its exact name
version_added: 0.2.0
description:
  - Manages one Cloud Firewall, identified by O(name) exactly (not a part of it, not in another case).
    DigitalOcean does not keep names unique; when more than one firewall has the name, the task fails
    naming their ids and changes nothing.
  - The firewall is the whole of what the task says. Rules, droplet ids and tags are compared as sets,
    normalised as the API returns them (every port of a rule as V(0), ICMP rules without ports, an address
    and its V(/32) alike, no order). The firewall is updated (one PUT of the whole firewall) only when they
    differ.
  - A create, update or delete is sent once. When it fails in a way where DigitalOcean may have acted (a 5xx,
    a timeout, a reset), the task looks again before it acts again. After a create it adopts the one firewall
    of the name that appeared, and fails, saying so, when none did. After an update it reads the firewall
    back and sends the update once more only when it still differs. After a delete, a firewall that is gone
    means done.
  - With O(id) and O(state=absent), the firewall with that id is deleted, whatever its name; that is how one
    of several firewalls that share a name is removed (M(highload.cluster.firewall_info) lists them by id).
extends_documentation_fragment: [highload.cluster.digitalocean, highload.cluster.attributes]
options:
  name:
    description:
      - The firewall's name. Letters, digits, dots and dashes, starting with a letter or digit.
      - Required unless O(id) is given.
    type: str
  id:
    description:
      - Only with O(state=absent); the firewall with this id is deleted, whatever its name.
    type: str
    version_added: 0.2.0
  state:
    description: V(present) the firewall exists as described; V(absent) no firewall has the name.
    type: str
    choices: [present, absent]
    default: present
  inbound_rules:
    description:
      - Traffic the firewall lets in; everything else inbound is dropped.
    type: list
    elements: dict
    default: []
    suboptions:
      protocol: &firewall_rule_protocol
        description: V(tcp), V(udp) or V(icmp).
        type: str
        required: true
        choices: [tcp, udp, icmp]
      ports: &firewall_rule_ports
        description:
          - A port (V(80)), a range (V(8000-9000)), or V(all) (V(0)). Required unless the rule's protocol is V(icmp).
        type: str
      sources:
        description: Where the traffic may come from; at least one of the lists.
        type: dict
        required: true
        suboptions: &firewall_rule_ends
          addresses:
            description: IPv4 or IPv6 addresses and networks (V(10.110.0.5), V(0.0.0.0/0), V(::/0)).
            type: list
            elements: str
            default: []
          droplet_ids:
            description: Droplets (their ids).
            type: list
            elements: int
            default: []
          tags:
            description: Droplets that carry these tags.
            type: list
            elements: str
            default: []
          load_balancer_uids:
            description: Load balancers (their ids).
            type: list
            elements: str
            default: []
          kubernetes_ids:
            description: Kubernetes clusters (their ids).
            type: list
            elements: str
            default: []
  outbound_rules:
    description:
      - Traffic the firewall lets out; everything else outbound is dropped. Without any, the droplets can
        reach nothing (no package updates, no DNS).
    type: list
    elements: dict
    default: []
    suboptions:
      protocol: *firewall_rule_protocol
      ports: *firewall_rule_ports
      destinations:
        description: Where the traffic may go; at least one of the lists.
        type: dict
        required: true
        suboptions: *firewall_rule_ends
  droplet_ids:
    description: Droplets the firewall applies to.
    type: list
    elements: int
    default: []
  tags:
    description:
      - Tags whose droplets the firewall applies to, now and when they are created later. The tags must exist
        (a droplet that carries one, or a tag made beforehand).
    type: list
    elements: str
    default: []
attributes:
  diff_mode:
    support: full
    description: The firewall's name, rules, droplet ids and tags before and after, normalised; a missing
      firewall shows as state absent.
author:
  - highload.cluster developers (@highload-cluster)
"""

EXAMPLES = r"""
- name: Backends take HTTP from the balancer only, SSH from one address
  highload.cluster.firewall:
    name: highload-backends
    tags: [highload-backends]
    inbound_rules:
      - protocol: tcp
        ports: "80"
        sources: {addresses: [10.110.0.2]}
      - protocol: tcp
        ports: "22"
        sources: {addresses: [198.51.100.7/32]}
    outbound_rules:
      - {protocol: tcp, ports: all, destinations: {addresses: [0.0.0.0/0, "::/0"]}}
      - {protocol: udp, ports: all, destinations: {addresses: [0.0.0.0/0, "::/0"]}}
      - {protocol: icmp, destinations: {addresses: [0.0.0.0/0, "::/0"]}}
  register: backends_firewall

- name: Remove it
  highload.cluster.firewall:
    name: highload-backends
    state: absent

- name: Remove one of several firewalls that share a name, by its id
  highload.cluster.firewall:
    id: bb4b2611-3d72-467b-8602-280330ecd65c
    state: absent
"""

RETURN = r"""
firewall:
  description:
    - The firewall after the task, as DigitalOcean holds it; in check mode before a create, the firewall that
      would be created (with a null id). Null when O(state=absent).
  returned: always
  type: dict
  sample:
    id: bb4b2611-3d72-467b-8602-280330ecd65c
    name: highload-backends
    status: succeeded
    created_at: "2026-11-26T07:00:00Z"
    inbound_rules:
      - {protocol: tcp, ports: "80", sources: {addresses: [10.110.0.2]}}
    outbound_rules:
      - {protocol: tcp, ports: "0", destinations: {addresses: [0.0.0.0/0, "::/0"]}}
    droplet_ids: []
    tags: [highload-backends]
    pending_changes: []
api_error:
  description: What DigitalOcean answered when a call failed.
  returned: failure
  type: dict
  sample: {status: 400, id: bad_request, message: "invalid address", attempts: 1}
"""

from typing import Any, Dict, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    DigitalOceanClient,
    DigitalOceanError,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_firewalls import (
    check_name,
    check_rules,
    comparable,
    find_by_name,
    firewall_facts,
    request_body,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_module import (
    NAME_OR_ID,
    api_argument_spec,
    client_for,
    run_task,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_task import DigitalOceanTask


def _target_spec() -> Dict[str, Any]:
    return {
        "addresses": {"type": "list", "elements": "str", "default": []},
        "droplet_ids": {"type": "list", "elements": "int", "default": []},
        "tags": {"type": "list", "elements": "str", "default": []},
        "load_balancer_uids": {"type": "list", "elements": "str", "default": []},
        "kubernetes_ids": {"type": "list", "elements": "str", "default": []},
    }


def _rule_spec(targets: str) -> Dict[str, Any]:
    return {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "protocol": {"type": "str", "required": True, "choices": ["tcp", "udp", "icmp"]},
            "ports": {"type": "str"},
            targets: {"type": "dict", "required": True, "options": _target_spec()},
        },
    }


def argument_spec() -> Dict[str, Any]:
    spec = api_argument_spec()
    spec.update(
        name={"type": "str"},
        id={"type": "str"},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        inbound_rules=_rule_spec("sources"),
        outbound_rules=_rule_spec("destinations"),
        droplet_ids={"type": "list", "elements": "int", "default": []},
        tags={"type": "list", "elements": "str", "default": []},
    )
    return spec


class FirewallTask(DigitalOceanTask):
    """One run of the module: the lookup by name, then at most the one change the state asks for."""

    kind = "firewall"

    def __init__(self, module: AnsibleModule, client: DigitalOceanClient) -> None:
        super().__init__(module, client)
        self.body = request_body(module.params)
        self.want = comparable(self.body)

    def lookup(self) -> Optional[Dict[str, Any]]:
        if self.params["id"] is not None:
            answer = self.client.get_or_none("firewalls/%s" % self.params["id"], expect="firewall")
            return answer["firewall"] if answer else None
        return self.refuse_duplicates(
            find_by_name(self.client, self.name),
            "firewalls are named %s" % self.name,
            "names must be unique for this module: delete the extra ones",
        )

    def planned(self) -> Dict[str, Any]:
        return dict(firewall_facts(self.body), id=None, status=None, created_at=None)

    def create(self) -> Dict[str, Any]:
        return self.create_once(
            lambda: self.client.post("firewalls", self.body, expect="firewall")["firewall"],
            lambda: find_by_name(self.client, self.name),
            "firewall %s" % self.name,
            "the name",
            lookups=1,
        )

    def update(self, existing: Dict[str, Any]) -> Dict[str, Any]:
        path = "firewalls/%s" % existing["id"]
        try:
            answer = self.client.put(path, self.body, expect="firewall")
        except DigitalOceanError as exc:
            if not exc.ambiguous:
                raise
            # Read it back: send the update again only if it did not take.
            current = self.client.get_or_none(path, expect="firewall")
            if current is None:
                self.module.fail_json(
                    msg="firewall %s (id %s) was deleted while it was being updated; run the task again to "
                    "create it" % (self.name, existing["id"]),
                    changed=True,
                )
            self.changed = True
            if comparable(current["firewall"]) == self.want:
                return current["firewall"]
            answer = self.client.put(path, self.body, expect="firewall")
        self.changed = True
        return answer["firewall"]

    def absent(self, existing: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        if existing is None:
            return {"changed": False, "firewall": None}
        if not (self.module.check_mode or self.delete_once("firewalls/%s" % existing["id"], expect="firewall")):
            return {"changed": False, "firewall": None}  # deleted by someone else since the lookup
        return {"changed": True, "firewall": None, "diff": self.diff(comparable(existing), None)}

    def present(self, existing: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        before = comparable(existing) if existing else None
        if existing is None:
            if self.module.check_mode:
                return {"changed": True, "firewall": self.planned(), "diff": self.diff(None, self.want)}
            firewall = self.create()
        elif before == self.want:
            return {"changed": False, "firewall": firewall_facts(existing)}
        elif self.module.check_mode:
            return {"changed": True, "firewall": firewall_facts(existing), "diff": self.diff(before, self.want)}
        else:
            firewall = self.update(existing)
        if comparable(firewall) != self.want:
            # An adopted firewall (after a create whose answer was lost) that is not as asked.
            firewall = self.update(firewall)
        return {"changed": True, "firewall": firewall_facts(firewall), "diff": self.diff(before, comparable(firewall))}


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        **NAME_OR_ID,
        required_if=[("state", "present", ("name",))],
    )
    try:
        if module.params["name"] is not None:
            check_name(module.params["name"])
        check_rules(module.params["inbound_rules"], "inbound_rules")
        check_rules(module.params["outbound_rules"], "outbound_rules")
        request_body(module.params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    client = client_for(module)
    task = FirewallTask(module, client)
    run_task(module, client, "firewall %s" % task.name, task.run)


if __name__ == "__main__":
    main()
