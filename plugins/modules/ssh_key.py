#!/usr/bin/python
"""Module highload.cluster.ssh_key: a public key in the DigitalOcean account, found by its fingerprint."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ssh_key
short_description: Upload an SSH public key to a DigitalOcean account once, or remove it
version_added: 0.2.0
description:
  - The key is identified by its MD5 fingerprint, computed from O(public_key); uploading the same key
    again changes nothing, whatever its name in the account.
  - The upload is sent once. When it fails without a clear answer (a 5xx, a reset, no answer in time), or
    DigitalOcean says the key is already in use, the key is looked up by its fingerprint and adopted when
    it is there.
  - A delete is retried as it is idempotent. When it fails in a way where DigitalOcean may have acted (a 5xx,
    a reset, no answer in time), the key is looked up again before the task reports; a key that is gone
    counts as deleted.
  - Returns the key's id and fingerprint for M(highload.cluster.droplet)'s O(highload.cluster.droplet#module:ssh_keys).
extends_documentation_fragment: [highload.cluster.digitalocean, highload.cluster.attributes]
options:
  name:
    description: The key's name in the account, used when the key is uploaded.
    type: str
    required: true
  public_key:
    description: The public key, one line as in C(~/.ssh/id_ed25519.pub).
    type: str
    required: true
  state:
    description: V(present) the key is in the account; V(absent) it is not.
    type: str
    choices: [present, absent]
    default: present
attributes:
  diff_mode:
    support: none
    description: The key is uploaded or removed whole; no diff is returned.
author:
  - highload.cluster developers (@highload-cluster)
"""

EXAMPLES = r"""
- name: The controller's public key, uploaded once
  highload.cluster.ssh_key:
    name: highload
    public_key: "{{ lookup('ansible.builtin.file', '~/.ssh/id_ed25519.pub') }}"
  register: key

- name: A droplet that admits it
  highload.cluster.droplet:
    name: backend-1
    region: fra1
    size: s-1vcpu-1gb
    image: debian-12-x64
    ssh_keys: ["{{ key.ssh_key.fingerprint }}"]
"""

RETURN = r"""
ssh_key:
  description: The key in the account (in check mode before an upload, its fingerprint with a null id).
  returned: always
  type: dict
  sample: {id: 512189, fingerprint: "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa", name: highload}
"""

import base64
import binascii
import hashlib
from typing import Any, Dict, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import DigitalOceanClient
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_module import (
    api_argument_spec,
    client_for,
    run_task,
)
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_task import DigitalOceanTask


def fingerprint(public_key: str) -> str:
    """The MD5 fingerprint DigitalOcean files a public key under."""
    fields = public_key.strip().split()
    if len(fields) < 2:
        raise ValueError("public_key is not an OpenSSH public key line ('TYPE BASE64 [COMMENT]')")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("public_key: the key's second field is not base64") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()  # the API names keys by MD5
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def key_facts(key: Dict[str, Any]) -> Dict[str, Any]:
    return {"id": key.get("id"), "fingerprint": key.get("fingerprint"), "name": key.get("name")}


class KeyTask(DigitalOceanTask):
    """One run of the module: the lookup by fingerprint, then the upload or the removal."""

    kind = "SSH key"

    def __init__(self, module: AnsibleModule, client: DigitalOceanClient, wanted: str) -> None:
        super().__init__(module, client)
        self.wanted = wanted

    def lookup(self) -> Optional[Dict[str, Any]]:
        found = self.client.get_or_none("account/keys/%s" % self.wanted, expect="ssh_key")
        return found["ssh_key"] if found else None

    def upload(self) -> Dict[str, Any]:
        """POST once; after an ambiguous failure or 'already in use', the key as the account has it."""
        body = {"name": self.params["name"], "public_key": self.params["public_key"].strip()}
        return self.create_once(
            lambda: self.client.post("account/keys", body, expect="ssh_key")["ssh_key"],
            lambda: [key for key in [self.lookup()] if key is not None],
            "SSH key %s" % self.wanted,
            "the fingerprint",
            lookups=1,
            adopt_when=lambda failure: failure.status == 422,
        )

    def run(self) -> Dict[str, Any]:
        existing = self.lookup()
        if self.params["state"] == "absent":
            changed = existing is not None
            if existing and not self.module.check_mode:
                changed = self.delete_once("account/keys/%s" % existing["id"], expect="ssh_key")
            return {"changed": changed, "ssh_key": key_facts(existing) if existing else None}
        if existing:
            return {"changed": False, "ssh_key": key_facts(existing)}
        if self.module.check_mode:
            return {"changed": True, "ssh_key": {"id": None, "fingerprint": self.wanted, "name": self.params["name"]}}
        uploaded = self.upload()
        return {"changed": True, "ssh_key": key_facts(uploaded)}


def main() -> None:
    spec = api_argument_spec()
    spec.update(
        name={"type": "str", "required": True},
        public_key={"type": "str", "required": True, "no_log": False},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    try:
        wanted = fingerprint(module.params["public_key"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    client = client_for(module)
    task = KeyTask(module, client, wanted)
    run_task(module, client, "SSH key %s (%s)" % (module.params["name"], wanted), task.run)


if __name__ == "__main__":
    main()
