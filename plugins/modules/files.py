#!/usr/bin/python
"""Module highload.cluster.files: its documentation; the action plugin of the same name does the work."""

from __future__ import annotations

DOCUMENTATION = r"""
module: files
short_description: Write a role's files and folders in one task, compared with the host in one call
version_added: 0.3.0
description:
  - Each item is one file (its content, usually from the C(ansible.builtin.template) lookup) or one folder,
    with its path and mode, said once. One call of M(highload.cluster.host_state) reads every path (checksum,
    mode, owner, group); only the items that differ are written, a file with Ansible's C(copy) action (so
    O(files[].validate) runs before it replaces the live one) and a folder with the C(file) module, in the
    order given.
  - A run where nothing differs costs one module call on the host, however many items there are; the
    C(template) and C(file) modules cost one or two each.
  - The task notifies its handlers when any item was written; put files whose change needs another handler
    (a reload rather than a restart) in another task.
options:
  files:
    description: The files and folders, in the order they are written.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path on the host.
        type: path
        required: true
      content:
        description: A file's content; what the task writes, byte for byte. Not for a folder.
        type: str
      state:
        description: V(file) (the default) or V(directory).
        type: str
        choices: [file, directory]
        default: file
      mode:
        description: Octal mode, such as V("0644"); not compared or set when left out.
        type: raw
      owner:
        description: Owner's name; not compared or set when left out.
        type: str
      group:
        description: Group's name; not compared or set when left out.
        type: str
      validate:
        description: A file's check before it replaces the live one, with V(%s) for the new file, as in C(copy).
        type: str
attributes:
  check_mode:
    support: full
    description: Reads the host and reports what it would write; writes nothing.
  diff_mode:
    support: full
    description: The C(copy) action's diff of each file written.
notes:
  - Runs as an action plugin; the host needs only what M(highload.cluster.host_state) and C(copy) need.
  - Set O(ignore:no_log) on a task whose contents hold a secret.
seealso:
  - module: highload.cluster.host_state
  - module: ansible.builtin.template
author:
  - highload.cluster developers (@highload-cluster)
"""

EXAMPLES = r"""
- name: Write nginx.conf (validated with nginx -t before it replaces the live one)
  highload.cluster.files:
    files:
      - path: /etc/nginx/nginx.conf
        content: "{{ lookup('ansible.builtin.template', 'nginx.conf.j2') }}"
        mode: "0644"
        owner: root
        group: root
        validate: nginx -t -q -c %s
  notify: Reload nginx

- name: Give nginx more open files (a folder and a systemd drop-in in it)
  highload.cluster.files:
    files:
      - {path: /etc/systemd/system/nginx.service.d, state: directory, mode: "0755"}
      - path: /etc/systemd/system/nginx.service.d/highload-limits.conf
        content: "{{ lookup('ansible.builtin.template', 'limits.conf.j2') }}"
        mode: "0644"
  notify: Restart nginx
"""

RETURN = r"""
written:
  description: The paths this task wrote (in check mode, would write), in order.
  returned: always
  type: list
  elements: str
  sample: [/etc/nginx/nginx.conf]
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    item = {
        "path": {"type": "path", "required": True},
        "content": {"type": "str"},
        "state": {"type": "str", "choices": ["file", "directory"], "default": "file"},
        "mode": {"type": "raw"},
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "validate": {"type": "str"},
    }
    module = AnsibleModule(
        argument_spec={"files": {"type": "list", "elements": "dict", "required": True, "options": item}},
        supports_check_mode=True,
    )
    module.fail_json(msg="highload.cluster.files runs as an action plugin; this module is its documentation")


if __name__ == "__main__":
    main()
