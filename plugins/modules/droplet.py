#!/usr/bin/python
"""Module highload.cluster.droplet: one DigitalOcean droplet, found by its unique name."""

from __future__ import annotations

DOCUMENTATION = r"""
module: droplet
short_description: Create, power on or off, and delete one DigitalOcean droplet, idempotent by its name
version_added: 0.2.0
description:
  - Manages one droplet, identified by O(name). Names are unique for this module; a task never creates a
    second droplet of a name that exists, and fails when more than one of its droplets has the name.
  - With O(owner_tag), only droplets that carry the tag are this automation's. A droplet of the same name
    without it is someone else's (foreign); it is never adopted, changed or deleted, and the task says so
    (it fails when only a foreign droplet has the name, and warns when one of ours has it too). The tag is
    given to every droplet the module creates.
  - A create request is sent once. When it fails without a clear answer (a 5xx, a connection reset, no
    answer within O(api_timeout)), DigitalOcean may have created the droplet all the same, so the module
    looks the name up again and adopts the one droplet that appeared. When none did, the task fails saying
    that one may still appear and that running it again is safe. Power actions are read back the same way
    before anything is posted again; a delete that may have happened counts as done when the droplet is gone.
  - O(wait_timeout) is one budget for the whole task (creation, boot, power action, deletion, retries and
    the waits that rate-limit answers ask for), not per phase.
  - V(present) powers on a droplet of ours that is off (and reports a change), as V(active) does.
  - Settings of an existing droplet (size, region, image) are not changed; a difference is reported as a
    warning.
  - Failed API calls fail the task with DigitalOcean's status code, error id and message.
extends_documentation_fragment: [highload.cluster.digitalocean, highload.cluster.attributes]
options:
  name:
    description:
      - The droplet's name (and hostname). Letters, digits, dots and dashes.
      - Required unless O(id) is given.
    type: str
  id:
    description:
      - Only with O(state=absent); the droplet with this id is deleted (when it carries O(owner_tag)),
        whatever its name. That is how an extra droplet that shares a name with another is removed.
    type: int
  state:
    description:
      - V(present) the droplet exists and runs (created powered on; powered on when it is off); V(absent)
        it does not.
      - V(active) it exists and is powered on (the same as V(present)); V(inactive) it exists and is powered
        off.
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
  diff_mode:
    support: full
    description: The droplet's facts before and after, in check mode too; a missing droplet shows as state absent.
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

- name: Delete one droplet by id (an extra one that shares a name)
  highload.cluster.droplet:
    id: 3164445
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
  sample:
    status: 422
    id: unprocessable_entity
    message: "Size is not available in this region."
    request_id: 515850a0-a812-50bf-aa3c-d0d21d287e40
    attempts: 1
    ambiguous: false
"""

from typing import Any, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_actions import (
    start_action,
    wait_for_action,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    Deadline,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_droplets import (
    create_body,
    droplet_facts,
    find_by_name,
    split_by_owner,
    wait_for_droplet,
    wait_until_gone,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_module import (
    NAME_OR_ID,
    api_argument_spec,
    client_for,
    run_task,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_task import DigitalOceanTask, ids

# state -> (the status it changes from, the action, the status it ends in)
POWER = {
    "present": ("off", "power_on", "active"),
    "active": ("off", "power_on", "active"),
    "inactive": ("active", "power_off", "off"),
}


def argument_spec() -> Dict[str, Any]:
    spec = api_argument_spec()
    spec.update(
        name={"type": "str"},
        id={"type": "int"},
        state={"type": "str", "default": "present", "choices": ["present", "absent", "active", "inactive"]},
        region={"type": "str"},
        size={"type": "str"},
        image={"type": "str"},
        ssh_keys={"type": "list", "elements": "str", "default": [], "no_log": False},
        tags={"type": "list", "elements": "str", "default": []},
        owner_tag={"type": "str"},
        user_data={"type": "str", "no_log": True},
        monitoring={"type": "bool", "default": False},
        ipv6={"type": "bool", "default": False},
        vpc_uuid={"type": "str"},
        wait={"type": "bool", "default": True},
        wait_timeout={"type": "int", "default": 300},
    )
    return spec


class DropletTask(DigitalOceanTask):
    """One run of the module: the lookup, then the one change the state asks for."""

    kind = "droplet"

    def tags(self) -> list:
        tags = list(self.params["tags"])
        owner = self.params["owner_tag"]
        if owner and owner not in tags:
            tags.insert(0, owner)
        return tags

    def ours(self, droplet: Optional[Dict[str, Any]]) -> bool:
        owner = self.params["owner_tag"]
        return droplet is not None and (not owner or owner in (droplet.get("tags") or []))

    def named(self) -> List[Dict[str, Any]]:
        """Every droplet of the name, ours and foreign."""
        return find_by_name(self.client, self.params["name"])

    def lookup(self) -> Optional[Dict[str, Any]]:
        """Our one droplet of this name (or id), None when there is none; fails on duplicates or a foreign one."""
        if self.params["id"] is not None:
            found = self.client.get_or_none("droplets/%s" % self.params["id"], expect="droplet")
            droplet = found["droplet"] if found else None
            if droplet is not None and not self.ours(droplet):
                self.fail_foreign([droplet])
            return droplet
        name = self.params["name"]
        ours, foreign = split_by_owner(self.named(), self.params["owner_tag"])
        if foreign and not ours:
            self.fail_foreign(foreign)
        droplet = self.refuse_duplicates(
            ours,
            "droplets named %s carry the tag %s" % (name, self.params["owner_tag"] or "(any)"),
            "names must be unique for this module: delete the extra ones (highload.cluster.droplet with id and "
            "state absent)",
        )
        if foreign:
            self.module.warn(
                "droplet %s: %d foreign droplet(s) of the same name without the tag %s (ids %s) are left alone"
                % (name, len(foreign), self.params["owner_tag"], ids(foreign))
            )
        return droplet

    def fail_foreign(self, foreign: List[Dict[str, Any]]) -> None:
        self.fail(
            "droplet %s (id %s) exists but does not carry the tag %s: it is foreign, not managed by this "
            "automation, so it is neither adopted, changed nor deleted"
            % (self.name, ids(foreign), self.params["owner_tag"])
        )

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
        if not self.delete_once("droplets/%s" % existing["id"], expect="droplet"):
            return {"changed": False, "droplet": None}  # deleted by someone else since the lookup: goal reached
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
        """The create request, sent once; after an ambiguous failure, the droplet it made, if it made one."""
        options = dict(self.params, tags=self.tags())
        try:
            body = create_body(self.params["name"], options)
        except ValueError as exc:
            self.fail(str(exc))
        return self.create_once(
            lambda: self.client.post("droplets", body, expect="droplet")["droplet"],
            lambda: split_by_owner(self.named(), self.params["owner_tag"])[0],
            "droplet %s" % self.name,
            "the name",
        )

    def power(self, droplet: Dict[str, Any]) -> Dict[str, Any]:
        from_status, action, to_status = POWER[self.params["state"]]
        if droplet["status"] == "new":
            if to_status == "active":
                return droplet  # a new droplet boots powered on
            droplet = wait_for_droplet(self.client, droplet["id"], "active", self.deadline)
        if droplet["status"] != from_status:
            return droplet
        path = "droplets/%s" % droplet["id"]

        def reached() -> bool:
            return self.client.get(path, expect="droplet")["droplet"].get("status") == to_status

        answer, posted = start_action(self.client, path, {"type": action}, action, reached)
        if posted:
            self.changed = True
        elif answer is not None:
            self.module.warn(
                "droplet %s: %s is already in progress (action %s)" % (droplet["name"], action, answer["id"])
            )
        if self.params["wait"] and answer is not None:
            wait_for_action(self.client, answer["id"], self.deadline)
        if self.params["wait"]:
            droplet = wait_for_droplet(self.client, droplet["id"], to_status, self.deadline)
        return droplet

    def present(self, existing: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        before = droplet_facts(existing) if existing else None
        if existing is None and self.module.check_mode:
            return {"changed": True, "droplet": self.planned(), "diff": self.diff(None, self.planned())}
        if existing is not None:
            self.warn_on_drift(existing)
            if self.module.check_mode:
                from_status, _action, to_status = POWER[self.params["state"]]
                if existing["status"] != from_status:
                    return {"changed": False, "droplet": before}
                after = dict(before or {}, status=to_status)
                return {"changed": True, "droplet": after, "diff": self.diff(before, after)}
        droplet = existing if existing is not None else self.create()
        droplet = self.power(droplet)
        if self.params["wait"]:
            target = POWER[self.params["state"]][2]
            droplet = wait_for_droplet(self.client, droplet["id"], target, self.deadline)
        after = droplet_facts(droplet)
        result = {"changed": self.changed, "droplet": after}
        if self.changed:
            result["diff"] = self.diff(before, after)
        return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        **NAME_OR_ID,
        required_if=[("state", state, ("region", "size", "image")) for state in ("present", "active", "inactive")],
    )
    if module.params["id"] is not None and module.params["state"] != "absent":
        module.fail_json(msg="id is only for state=absent; a droplet to create or power is named by name")
    client = client_for(module, Deadline(float(module.params["wait_timeout"])))
    task = DropletTask(module, client)
    run_task(module, client, "droplet %s" % task.name, task.run)


if __name__ == "__main__":
    main()
