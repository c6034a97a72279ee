#!/usr/bin/python
"""Module highload.cluster.droplet: one DigitalOcean droplet, found by its unique name."""

from __future__ import annotations

DOCUMENTATION = r"""
module: droplet
short_description: Create, power on or off, and delete one DigitalOcean droplet, idempotent by its name
version_added: 0.1.0
description:
  - Manages one droplet, identified by O(name). Names are unique for this module; a task never creates a
    second droplet of a name that exists, and fails when more than one droplet has the name.
  - With O(owner_tag), a droplet of that name that lacks the tag is someone else's; the task fails rather
    than adopt or delete it. The tag is given to every droplet the module creates.
  - O(wait_timeout) is one budget for the whole task (creation, boot, power action, deletion), not per phase.
  - Settings of an existing droplet (size, region, image) are not changed; a difference is reported as a
    warning.
  - Failed API calls fail the task with DigitalOcean's status code, error id and message; 429 answers are
    retried after the time the rate-limit headers give, 5xx answers and timeouts a bounded number of times.
extends_documentation_fragment:
  - highload.cluster.digitalocean
options:
  name:
    description: The droplet's name (and hostname). Letters, digits, dots and dashes.
    type: str
    required: true
  state:
    description:
      - V(present) the droplet exists (created powered on); V(absent) it does not.
      - V(active) it exists and is powered on; V(inactive) it exists and is powered off.
    type: str
    choices: [present, absent, active, inactive]
    default: present
  region:
    description: Region slug, such as V(fra1) or V(ams3). Required unless O(state=absent).
    type: str
  size:
    description: Size slug, such as V(s-1vcpu-1gb). Required unless O(state=absent).
    type: str
  image:
    description: Image slug (V(debian-12-x64)) or numeric image id. Required unless O(state=absent).
    type: str
  ssh_keys:
    description:
      - SSH keys for root, as key ids or MD5 fingerprints of keys already in the account.
      - A public key text is refused (upload it once with M(highload.cluster.ssh_key)).
    type: list
    elements: str
    default: []
  tags:
    description: Tags of a new droplet; DigitalOcean creates tags that do not exist yet.
    type: list
    elements: str
    default: []
  owner_tag:
    description:
      - A tag that marks the droplets this automation owns. Added to a new droplet's tags; an existing
        droplet of the same name without it makes the task fail instead of being adopted or deleted.
    type: str
  user_data:
    description: Cloud-init user data for a new droplet.
    type: str
  monitoring:
    description: Install DigitalOcean's metrics agent on a new droplet.
    type: bool
    default: false
  ipv6:
    description: Give a new droplet a public IPv6 address.
    type: bool
    default: false
  vpc_uuid:
    description: VPC of a new droplet; the region's default VPC when not given.
    type: str
  wait:
    description:
      - Wait until the droplet is active with a public IPv4 (or off, or deleted, as O(state) says).
      - Without it the task returns as soon as DigitalOcean accepted the request; a later task with
        O(wait=true) and the same name waits for the droplet it created.
    type: bool
    default: true
  wait_timeout:
    description: Seconds the whole task may wait, over every phase.
    type: int
    default: 300
attributes:
  check_mode:
    support: full
    description: Reports what would change; no call that changes anything is made.
  diff_mode:
    support: full
    description: The droplet's facts before and after; a missing droplet shows as state absent.
author:
  - highload.cluster developers (@highload-cluster)
"""

EXAMPLES = r"""
- name: A backend droplet, waited until it has an address
  highload.cluster.droplet:
    name: backend-1
    region: fra1
    size: s-1vcpu-1gb
    image: debian-12-x64
    ssh_keys: ["3b:16:e4:bf:8b:00:8b:b8:59:8c:a9:d3:f0:19:fa:45"]
    tags: [highload, highload-backends]
    owner_tag: highload
  register: backend

- name: Its public address
  ansible.builtin.debug:
    msg: "{{ backend.droplet.public_ipv4 }}"

- name: Power it off (it keeps its address)
  highload.cluster.droplet:
    name: backend-1
    state: inactive
    region: fra1
    size: s-1vcpu-1gb
    image: debian-12-x64
    owner_tag: highload

- name: Delete it, only if it is ours
  highload.cluster.droplet:
    name: backend-1
    state: absent
    owner_tag: highload
"""

RETURN = r"""
droplet:
  description:
    - The droplet after the task; in check mode, the droplet that would be created (with a null id).
    - Null when O(state=absent) found nothing.
  returned: always
  type: dict
  sample:
    id: 3164444
    name: backend-1
    status: active
    public_ipv4: 203.0.113.10
    private_ipv4: 10.110.0.2
    public_ipv6: null
    region: fra1
    size: s-1vcpu-1gb
    image: debian-12-x64
    tags: [highload, highload-backends]
    vpc_uuid: 760e09ef-dc84-11e8-981e-3cfdfeaae000
    created_at: "2026-11-26T07:00:00Z"
api_error:
  description: What DigitalOcean answered when a call failed.
  returned: failure
  type: dict
  sample: {status: 422, id: unprocessable_entity, message: "Size is not available in this region.", attempts: 1}
"""

from typing import Any, Dict, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    DigitalOceanClient,
    DigitalOceanError,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_droplets import (
    Deadline,
    WaitTimeout,
    create_body,
    droplet_facts,
    find_by_name,
    wait_for_action,
    wait_for_droplet,
    wait_until_gone,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_module import (
    api_argument_spec,
    client_for,
    fail_with,
)

POWER = {"active": ("off", "power_on", "active"), "inactive": ("active", "power_off", "off")}


def argument_spec() -> Dict[str, Any]:
    spec = api_argument_spec()
    spec.update(
        name={"type": "str", "required": True},
        state={"type": "str", "default": "present", "choices": ["present", "absent", "active", "inactive"]},
        region={"type": "str"},
        size={"type": "str"},
        image={"type": "str"},
        ssh_keys={"type": "list", "elements": "str", "default": [], "no_log": False},
        tags={"type": "list", "elements": "str", "default": []},
        owner_tag={"type": "str"},
        user_data={"type": "str"},
        monitoring={"type": "bool", "default": False},
        ipv6={"type": "bool", "default": False},
        vpc_uuid={"type": "str"},
        wait={"type": "bool", "default": True},
        wait_timeout={"type": "int", "default": 300},
    )
    return spec


class DropletTask:
    """One run of the module: the lookup, then the one change the state asks for."""

    def __init__(self, module: AnsibleModule, client: DigitalOceanClient) -> None:
        self.module = module
        self.params = module.params
        self.client = client
        self.deadline = Deadline(self.params["wait_timeout"])
        self.changed = False

    def tags(self) -> list:
        tags = list(self.params["tags"])
        owner = self.params["owner_tag"]
        if owner and owner not in tags:
            tags.insert(0, owner)
        return tags

    def lookup(self) -> Optional[Dict[str, Any]]:
        name = self.params["name"]
        found = find_by_name(self.client, name)
        if len(found) > 1:
            ids = ", ".join(str(droplet["id"]) for droplet in found)
            self.module.fail_json(
                msg="%d droplets are named %s (ids %s); names must be unique for this module: "
                "delete the extra ones" % (len(found), name, ids)
            )
        existing = found[0] if found else None
        owner = self.params["owner_tag"]
        if existing and owner and owner not in (existing.get("tags") or []):
            self.module.fail_json(
                msg="droplet %s (id %s) exists but does not carry the tag %s: it is not managed "
                "by this automation, so it is neither adopted nor deleted" % (name, existing["id"], owner)
            )
        return existing

    def diff(self, before: Optional[Dict[str, Any]], after: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        return {"before": before or {"state": "absent"}, "after": after or {"state": "absent"}}

    def planned(self) -> Dict[str, Any]:
        keys = ("region", "size", "image", "vpc_uuid")
        facts: Dict[str, Any] = {key: self.params[key] for key in keys}
        facts.update(
            id=None,
            name=self.params["name"],
            status="new",
            public_ipv4=None,
            private_ipv4=None,
            public_ipv6=None,
            tags=self.tags(),
            created_at=None,
        )
        return facts

    def absent(self, existing: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        if existing is None:
            return {"changed": False, "droplet": None}
        facts = droplet_facts(existing)
        result = {"changed": True, "droplet": facts, "diff": self.diff(facts, None)}
        if self.module.check_mode:
            return result
        self.client.delete("droplets/%s" % existing["id"])
        if self.params["wait"]:
            wait_until_gone(self.client, existing["id"], self.deadline)
        return result

    def warn_on_drift(self, existing: Dict[str, Any]) -> None:
        facts = droplet_facts(existing)
        for key in ("region", "size", "image"):
            want = self.params[key]
            if want is not None and str(facts[key]) != str(want):
                self.module.warn(
                    "droplet %s has %s %s, not %s; the module does not change an existing droplet"
                    % (facts["name"], key, facts[key], want)
                )

    def create(self) -> Dict[str, Any]:
        options = dict(self.params, tags=self.tags())
        try:
            body = create_body(self.params["name"], options)
        except ValueError as exc:
            self.module.fail_json(msg=str(exc))
        droplet = self.client.post("droplets", body)["droplet"]
        self.changed = True
        return droplet

    def power(self, droplet: Dict[str, Any]) -> Dict[str, Any]:
        state = self.params["state"]
        if state not in POWER:
            return droplet
        from_status, action, to_status = POWER[state]
        if droplet["status"] == "new":
            droplet = wait_for_droplet(self.client, droplet["id"], "active", self.deadline)
        if droplet["status"] != from_status:
            return droplet
        self.changed = True
        answer = self.client.post("droplets/%s/actions" % droplet["id"], {"type": action})
        if self.params["wait"]:
            wait_for_action(self.client, answer["action"]["id"], self.deadline)
            droplet = wait_for_droplet(self.client, droplet["id"], to_status, self.deadline)
        return droplet

    def present(self, existing: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        before = droplet_facts(existing) if existing else None
        if existing is None and self.module.check_mode:
            return {"changed": True, "droplet": self.planned(), "diff": self.diff(None, self.planned())}
        if existing is not None:
            self.warn_on_drift(existing)
            if self.module.check_mode:
                power_change = self.params["state"] in POWER and existing["status"] == POWER[self.params["state"]][0]
                return {"changed": power_change, "droplet": before}
        droplet = existing if existing is not None else self.create()
        droplet = self.power(droplet)
        if self.params["wait"]:
            target = "off" if self.params["state"] == "inactive" else "active"
            droplet = wait_for_droplet(self.client, droplet["id"], target, self.deadline)
        after = droplet_facts(droplet)
        result = {"changed": self.changed, "droplet": after}
        if self.changed:
            result["diff"] = self.diff(before, after)
        return result

    def run(self) -> Dict[str, Any]:
        existing = self.lookup()
        if self.params["state"] == "absent":
            return self.absent(existing)
        return self.present(existing)


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_if=[("state", state, ("region", "size", "image")) for state in ("present", "active", "inactive")],
    )
    client = client_for(module)
    task = DropletTask(module, client)
    try:
        result = task.run()
    except DigitalOceanError as exc:
        fail_with(module, exc, "droplet %s" % module.params["name"], changed=task.changed)
    except WaitTimeout as exc:
        module.fail_json(
            msg="droplet %s: %s; run the task again to go on waiting" % (module.params["name"], exc),
            changed=task.changed,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
