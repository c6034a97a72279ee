#!/usr/bin/python
"""Module highload.cluster.droplet_info: the droplets that carry a tag, or have a name, read from the API."""

from __future__ import annotations

DOCUMENTATION = r"""
module: droplet_info
short_description: List DigitalOcean droplets by tag or by name, every one of them
version_added: 0.2.0
description:
  - Reads the droplets that carry O(tag), or that are named O(name) (or both), straight from the API, one
    entry per droplet, so that several droplets of one name are all listed (an inventory keeps one host
    per name).
  - Only reads; changes nothing.
extends_documentation_fragment: [highload.cluster.digitalocean, highload.cluster.attributes.read_only]
options:
  tag:
    description: Only droplets that carry this tag.
    type: str
  name:
    description: Only droplets of exactly this name.
    type: str
seealso:
  - plugin: highload.cluster.droplets
    plugin_type: inventory
    description: The cluster's droplets as hosts, one host per name (the oldest droplet of the name).
author:
  - highload.cluster developers (@highload-cluster)
"""

EXAMPLES = r"""
- name: Every droplet of the cluster, by id
  highload.cluster.droplet_info:
    tag: highload
  register: cluster

- name: Delete each of them by id
  highload.cluster.droplet:
    id: "{{ item.id }}"
    state: absent
    owner_tag: highload
  loop: "{{ cluster.droplets }}"
  loop_control:
    label: "{{ item.name }} ({{ item.id }})"
"""

RETURN = r"""
droplets:
  description:
    - The droplets found, oldest first, each with the keys of RV(highload.cluster.droplet#module:droplet).
    - The sample is two droplets of one name, the second one powered off.
  returned: success
  type: list
  elements: dict
  sample:
    - {id: 3164444, name: backend-1, status: active, public_ipv4: 203.0.113.10, private_ipv4: 10.110.0.2,
       public_ipv6: null, region: fra1, size: s-1vcpu-1gb, image: debian-12-x64, tags: [highload, highload-backends],
       vpc_uuid: 760e09ef-dc84-11e8-981e-3cfdfeaae000, created_at: "2026-11-26T07:00:00Z"}
    - {id: 3164502, name: backend-1, status: "off", public_ipv4: 203.0.113.24, private_ipv4: 10.110.0.7,
       public_ipv6: null, region: fra1, size: s-1vcpu-1gb, image: debian-12-x64, tags: [highload, highload-backends],
       vpc_uuid: 760e09ef-dc84-11e8-981e-3cfdfeaae000, created_at: "2026-11-26T07:05:00Z"}
"""

from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import DigitalOceanClient
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_droplets import (
    droplet_facts,
    find_by_name,
    list_by_tag,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_module import (
    api_argument_spec,
    client_for,
    run_task,
)


def listing(module: AnsibleModule, client: DigitalOceanClient) -> Dict[str, Any]:
    tag, name = module.params["tag"], module.params["name"]
    found = list_by_tag(client, tag) if tag else find_by_name(client, name)
    if tag and name:
        found = [droplet for droplet in found if str(droplet.get("name", "")).lower() == name.lower()]
    droplets = sorted((droplet_facts(droplet) for droplet in found), key=lambda facts: facts["id"] or 0)
    return {"changed": False, "droplets": droplets}


def main() -> None:
    spec = api_argument_spec()
    spec.update(tag={"type": "str"}, name={"type": "str"})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, required_one_of=[("tag", "name")])
    client = client_for(module)
    what = "tagged %s" % module.params["tag"] if module.params["tag"] else "named %s" % module.params["name"]
    run_task(module, client, "listing the droplets %s" % what, lambda: listing(module, client))


if __name__ == "__main__":
    main()
