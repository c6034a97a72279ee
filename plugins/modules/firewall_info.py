#!/usr/bin/python
"""Module highload.cluster.firewall_info: the Cloud Firewalls of given names, every one of them, by id."""

from __future__ import annotations

DOCUMENTATION = r"""
module: firewall_info
short_description: List DigitalOcean Cloud Firewalls by exact name, every one of them
version_added: 0.2.0
description:
  - Reads the Cloud Firewalls whose name is one of O(names) exactly (not a part of it, not in another case),
    straight from the API, one entry per firewall. DigitalOcean does not keep names unique, so several
    firewalls of one name are all listed, each with its id; M(highload.cluster.firewall) with
    O(highload.cluster.firewall#module:id) deletes one by its id.
  - Only reads; changes nothing.
extends_documentation_fragment: [highload.cluster.digitalocean, highload.cluster.attributes.read_only]
options:
  names:
    description: The names of the firewalls to list.
    type: list
    elements: str
    required: true
author:
  - highload.cluster developers (@highload-cluster)
"""

EXAMPLES = r"""
- name: Every firewall of the cluster, by id
  highload.cluster.firewall_info:
    names: [highload-backends, highload-balancer, highload-monitoring]
  register: cluster_firewalls

- name: Delete each of them by id
  highload.cluster.firewall:
    id: "{{ item.id }}"
    state: absent
  loop: "{{ cluster_firewalls.firewalls }}"
  loop_control:
    label: "{{ item.name }} ({{ item.id }})"
"""

RETURN = r"""
firewalls:
  description: The firewalls found, by name and then oldest first, as M(highload.cluster.firewall) returns one.
  returned: success
  type: list
  elements: dict
  sample:
    - id: bb4b2611-3d72-467b-8602-280330ecd65c
      name: highload-backends
      status: succeeded
      created_at: "2026-11-26T07:00:00Z"
      inbound_rules:
        - {protocol: tcp, ports: "80", sources: {addresses: [10.110.0.2]}}
      outbound_rules: []
      droplet_ids: []
      tags: [highload-backends]
      pending_changes: []
"""

from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import DigitalOceanClient
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_firewalls import (
    firewall_facts,
    list_firewalls,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_module import (
    api_argument_spec,
    client_for,
    run_task,
)


def listing(module: AnsibleModule, client: DigitalOceanClient) -> Dict[str, Any]:
    names = list(module.params["names"])
    found = [firewall for firewall in list_firewalls(client) if firewall.get("name") in names]
    found.sort(key=lambda firewall: (names.index(firewall["name"]), str(firewall.get("created_at") or "")))
    return {"changed": False, "firewalls": [firewall_facts(firewall) for firewall in found]}


def main() -> None:
    spec = api_argument_spec()
    spec.update(names={"type": "list", "elements": "str", "required": True})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    client = client_for(module)
    run_task(
        module, client, "listing the firewalls %s" % ", ".join(module.params["names"]), lambda: listing(module, client)
    )


if __name__ == "__main__":
    main()
