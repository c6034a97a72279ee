#!/usr/bin/python
"""Module highload.cluster.reserved_ip: one DigitalOcean reserved IP, found by its address or by its droplet."""

from __future__ import annotations

DOCUMENTATION = r"""
module: reserved_ip
short_description: Create, assign, unassign and delete one DigitalOcean reserved IP, never a second one
version_added: 0.3.0
description:
  - Manages one reserved IP. A reserved IP has no name and no tags; the module finds it by O(address) when
    given, else as the one assigned to a droplet that carries O(droplet_tag) (the cluster's balancers), or, without
    a tag, to O(droplet_id). When more than one is found, the task fails naming them and changes nothing.
  - A new reserved IP is created already assigned to O(droplet_id) (one request), so that it can be found again
    by its droplet. The module never creates one unassigned; an unassigned reserved IP is billed, and only its
    address can tell it apart from anyone else's.
  - The create request is sent once. When it fails without a clear answer (a 5xx, a reset, no answer within
    O(api_timeout)), DigitalOcean may have made the reserved IP all the same, so the module lists the reserved
    IPs again and adopts the one that is new since the lookup before the request, or assigned to O(droplet_id);
    when none is listed yet, the task fails saying that a re-run is safe (the reserved IP appears assigned to
    O(droplet_id), and the re-run finds it there).
  - Assigning and unassigning are actions. One already assigned to O(droplet_id) is left as it is (no change,
    no request); an action in progress is waited for instead of sent again; a request whose answer was lost is
    read back (the reserved IP's actions and where it is) before anything is sent again. The reserved IP is read
    back after the action too.
  - V(absent) deletes the reserved IP (which releases it from its droplet). When the module looks it up by
    droplet, delete it before the droplets; a reserved IP whose droplet is gone is unassigned and can no longer
    be found by droplet (the task warns of unassigned reserved IPs in the region it sees).
  - O(wait_timeout) is one budget for the whole task (the actions, retries and rate-limit waits).
extends_documentation_fragment: [highload.cluster.digitalocean, highload.cluster.attributes]
options:
  address:
    description:
      - The reserved IP's address. With it, the module manages exactly this reserved IP and never creates one
        (DigitalOcean does not reserve a chosen address).
      - How a failover moves the cluster's reserved IP to its own droplet (with O(droplet_id)).
    type: str
  droplet_id:
    description:
      - The droplet the reserved IP is assigned to. A new reserved IP is created assigned to it (in its region).
      - With O(state=present), a reserved IP found elsewhere is moved to it, unless O(reassign=false).
      - A reserved IP assigned to this droplet counts as the cluster's too (one created there is found again even
        when the droplet lacks O(droplet_tag)). Without O(address) and O(droplet_tag), only O(state=absent)
        finds it by this droplet alone; O(state=present) needs O(droplet_tag) or O(address), since a failover
        moves the reserved IP to another droplet and a second one would be created.
    type: int
  droplet_tag:
    description:
      - Without O(address), the reserved IP is the one assigned to a droplet that carries this tag (in O(region)
        when given). A cluster's reserved IP is found this way whichever of its balancers holds it.
    type: str
  region:
    description:
      - Only reserved IPs of this region are looked at when one is found by droplet. A reserved IP can be assigned
        only to a droplet of its own region.
    type: str
  reassign:
    description:
      - With O(state=present), move a reserved IP that is assigned to another droplet (of O(droplet_tag)) to
        O(droplet_id).
      - V(false) leaves it where it is (a failover put it there), and only a new or unassigned reserved IP goes to
        O(droplet_id).
    type: bool
    default: true
  state:
    description:
      - V(present) the reserved IP exists (created when none is found), assigned to O(droplet_id) when given.
      - V(unassigned) it exists and is assigned to no droplet (it stays reserved, and billed); it must already
        exist, and O(address) names it (once unassigned, no droplet tells it apart).
      - V(absent) it does not exist (deleted).
    type: str
    choices: [present, absent, unassigned]
    default: present
  wait:
    description:
      - Wait until the assignment (or unassignment) is done and read the reserved IP back.
      - Without it the task returns once DigitalOcean has accepted the request; a later task waits for an action
        in progress before it sends another.
    type: bool
    default: true
  wait_timeout:
    description: Seconds the whole task may take, over every phase.
    type: int
    default: 120
attributes:
  diff_mode:
    support: full
    description: The reserved IP's address, region and droplet before and after; a missing one shows as state absent.
author:
  - highload.cluster developers (@highload-cluster)
"""

EXAMPLES = r"""
- name: The cluster's reserved IP, created on balancer-1, left on whichever balancer holds it
  highload.cluster.reserved_ip:
    droplet_tag: highload-balancer
    droplet_id: "{{ balancer_1_id }}"
    region: fra1
    reassign: false
  register: cluster_ip

- name: A failover moves it to this droplet (already there is no change)
  highload.cluster.reserved_ip:
    address: "{{ cluster_ip.reserved_ip.address }}"
    droplet_id: "{{ my_droplet_id }}"

- name: Released, before the droplets are deleted
  highload.cluster.reserved_ip:
    droplet_tag: highload-balancer
    region: fra1
    state: absent
"""

RETURN = r"""
reserved_ip:
  description:
    - The reserved IP after the task; in check mode before a create, the one that would be made (a null
      address). Null when O(state=absent).
  returned: always
  type: dict
  sample:
    address: 192.0.2.100
    region: fra1
    droplet_id: 3164444
    droplet_name: balancer-1
    locked: false
    project_id: 746c6152-2fa2-11ed-92d3-27aaa54e4988
api_error:
  description: What DigitalOcean answered when a call failed.
  returned: failure
  type: dict
  sample: {status: 422, id: unprocessable_entity, message: "Droplet not found.", attempts: 1, ambiguous: false}
"""

from typing import Any, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    Deadline,
    DigitalOceanClient,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_module import (
    api_argument_spec,
    client_for,
    run_task,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_reserved_ips import (
    assign,
    droplet_of,
    get_reserved_ip,
    list_reserved_ips,
    path_of,
    reserved_ip_facts,
    settle,
    unassign,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_task import DigitalOceanTask

Record = Dict[str, Any]


def argument_spec() -> Dict[str, Any]:
    spec = api_argument_spec()
    spec.update(
        address={"type": "str"},
        droplet_id={"type": "int"},
        droplet_tag={"type": "str"},
        region={"type": "str"},
        reassign={"type": "bool", "default": True},
        state={"type": "str", "default": "present", "choices": ["present", "absent", "unassigned"]},
        wait={"type": "bool", "default": True},
        wait_timeout={"type": "int", "default": 120},
    )
    return spec


def compared(facts: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """What the diff shows."""
    if facts is None:
        return None
    return {key: facts[key] for key in ("address", "region", "droplet_id")}


class ReservedIpTask(DigitalOceanTask):
    """One run of the module: the lookup, then the one change the state asks for."""

    kind = "reserved IP"
    id_key = "ip"

    def __init__(self, module: AnsibleModule, client: DigitalOceanClient) -> None:
        super().__init__(module, client)
        self.listed: List[Record] = []  # every reserved IP, as the lookup by droplet listed them

    def held(self, record: Record) -> bool:
        """Is this reserved IP assigned to one of the droplets that identify it?"""
        droplet = record.get("droplet") or {}
        if self.params["region"] and (record.get("region") or {}).get("slug") != self.params["region"]:
            return False
        on_droplet = droplet.get("id") is not None and droplet.get("id") == self.params["droplet_id"]
        # On droplet_id counts too: one created there is found again even when that droplet lacks the tag.
        tag = self.params["droplet_tag"]
        return on_droplet or (bool(tag) and tag in (droplet.get("tags") or []))

    def holders(self) -> str:
        """The droplets that identify the reserved IP, in words."""
        if self.params["droplet_tag"]:
            return "the droplets tagged %s" % self.params["droplet_tag"]
        return "droplet %s" % self.params["droplet_id"]

    def described(self) -> str:
        if self.params["address"]:
            return "reserved IP %s" % self.params["address"]
        return "the reserved IP of %s" % self.holders()

    def lookup(self) -> Optional[Record]:
        if self.params["address"]:
            return get_reserved_ip(self.client, self.params["address"])
        self.listed = list_reserved_ips(self.client)
        return self.refuse_duplicates(
            [record for record in self.listed if self.held(record)],
            "reserved IPs are assigned to %s" % self.holders(),
            "one is billed for nothing: delete the extra ones (highload.cluster.reserved_ip with address and state "
            "absent)",
        )

    def warn_unassigned(self) -> None:
        """Unassigned reserved IPs of the region are billed; one may be the one this task no longer finds."""
        region = self.params["region"]
        loose = [
            record["ip"]
            for record in self.listed
            if droplet_of(record) is None and (not region or (record.get("region") or {}).get("slug") == region)
        ]
        if loose:
            self.module.warn(
                "%d reserved IP(s) %sare assigned to no droplet (%s): they are billed. If one is this cluster's "
                "(its droplet was deleted first), delete it with its address and state absent"
                % (len(loose), "in %s " % region if region else "", ", ".join(loose))
            )

    def create(self) -> Record:
        """POST once, assigned to droplet_id; after a lost answer, the one that is new since the lookup."""
        droplet_id = self.params["droplet_id"]
        known = {record.get("ip") for record in self.listed}

        def appeared() -> List[Record]:
            return [
                record
                for record in list_reserved_ips(self.client)
                if record.get("ip") not in known or droplet_of(record) == droplet_id
            ]

        record = self.create_once(
            lambda: self.client.post("reserved_ips", {"droplet_id": droplet_id}, expect="reserved_ip")["reserved_ip"],
            appeared,
            "reserved IP for droplet %s" % droplet_id,
            "the reserved IPs",
        )
        if self.params["wait"]:  # its assign_ip action, then where it is
            record = settle(self.client, record["ip"], self.deadline) or record
            assign(self.client, record["ip"], droplet_id, self.deadline)
            record = get_reserved_ip(self.client, record["ip"]) or record
        return record

    def planned(self, existing: Optional[Record]) -> Dict[str, Any]:
        """The facts the reserved IP would have after the task (check mode)."""
        facts = reserved_ip_facts(existing or {})
        if existing is None:
            facts["region"] = self.params["region"]  # None: the droplet's
        facts.update(self.target(existing))
        return facts

    def target(self, existing: Optional[Record]) -> Dict[str, Any]:
        """Where the state and the options put the reserved IP: {} for where it is."""
        state, droplet_id = self.params["state"], self.params["droplet_id"]
        if state == "unassigned":
            return {"droplet_id": None, "droplet_name": None} if droplet_of(existing) is not None else {}
        if droplet_id is None or droplet_of(existing) == droplet_id:
            return {}
        if existing is not None and droplet_of(existing) is not None and not self.params["reassign"]:
            return {}  # left where a failover put it
        return {"droplet_id": droplet_id, "droplet_name": None}

    def present(self, existing: Optional[Record]) -> Dict[str, Any]:
        before = reserved_ip_facts(existing) if existing else None
        if existing is None and self.params["state"] == "unassigned":
            self.fail("%s does not exist; unassigned is for one that does" % self.described())
        if existing is None and self.params["address"]:
            self.fail(
                "reserved IP %s is not in the account; DigitalOcean does not reserve a chosen address: leave "
                "address out (and give droplet_id) to create one" % self.params["address"]
            )
        change = existing is None or bool(self.target(existing))
        if self.module.check_mode or not change:
            after = self.planned(existing)
            result = {"changed": change, "reserved_ip": after}
            if change:
                result["diff"] = self.diff(compared(before), compared(after))
            return result
        if existing is None:
            self.warn_unassigned()
            record = self.create()
        elif self.params["state"] == "unassigned":
            self.changed = unassign(self.client, existing["ip"], self.deadline, self.params["wait"])
            record = get_reserved_ip(self.client, existing["ip"]) or existing
        else:
            self.changed = assign(
                self.client, existing["ip"], self.params["droplet_id"], self.deadline, self.params["wait"]
            )
            record = get_reserved_ip(self.client, existing["ip"]) or existing
        after = reserved_ip_facts(record)
        result = {"changed": self.changed, "reserved_ip": after}
        if self.changed:
            result["diff"] = self.diff(compared(before), compared(after))
        return result

    def absent(self, existing: Optional[Record]) -> Dict[str, Any]:
        if existing is None:
            if not self.params["address"]:
                self.warn_unassigned()
            return {"changed": False, "reserved_ip": None}
        result = {"changed": True, "reserved_ip": None, "diff": self.diff(compared(reserved_ip_facts(existing)), None)}
        if self.module.check_mode:
            return result
        if existing.get("locked"):  # an assignment in progress: DigitalOcean takes no delete until it is done
            settle(self.client, existing["ip"], self.deadline)
        if not self.delete_once(path_of(existing["ip"]), expect="reserved_ip"):
            return {"changed": False, "reserved_ip": None}  # deleted by someone else since the lookup
        return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("address", "droplet_tag", "droplet_id")],
        mutually_exclusive=[("address", "droplet_tag")],
    )
    params = module.params
    # Found by a droplet alone, the reserved IP is lost to the lookup once a failover moves it, and an
    # unassigned one is on no droplet at all: a present that may create, or an unassign, needs more.
    if params["state"] == "unassigned" and not params["address"]:
        module.fail_json(msg="state=unassigned needs address: an unassigned reserved IP is on no droplet to find it by")
    if params["state"] == "present" and not params["address"] and not params["droplet_tag"]:
        module.fail_json(
            msg="state=present needs droplet_tag (or address): found by droplet_id alone, a reserved IP that a "
            "failover moved to another droplet is not found, and a second one would be created"
        )
    if params["state"] == "present" and not params["address"] and params["droplet_id"] is None:
        module.fail_json(msg="droplet_id is required to create a reserved IP: it is created assigned to that droplet")
    client = client_for(module, Deadline(float(params["wait_timeout"])))
    task = ReservedIpTask(module, client)
    run_task(module, client, task.described(), task.run)


if __name__ == "__main__":
    main()
