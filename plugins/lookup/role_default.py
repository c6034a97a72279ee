"""Lookup `highload.cluster.role_default`: a setting's default, read from the role of this collection that owns it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: role_default
author:
  - highload.cluster developers (@highload-cluster)
version_added: 0.2.0
short_description: A setting's default, from the defaults of the role that owns it
description:
  - Returns the value that C(roles/ROLE/defaults/main.yml) of this collection gives a variable. ROLE is the
    role whose name the variable starts with (V(backend_app_port) is role V(backend)'s,
    V(nginx_sidecar_listen_port) role V(nginx_sidecar)'s).
  - It is how a role or playbook follows a setting that another role owns, without writing its value again.
    On the same host, C(backend_app_port | default(lookup('highload.cluster.role_default', 'backend_app_port'))).
    Across hosts, C(hostvars[host].balancer_status_port | default(lookup('highload.cluster.role_default',
    'balancer_status_port'))); C(hostvars) holds a host's inventory variables and facts, never a role's defaults.
  - Only literal defaults are returned. A default that is a template is an error, because it means something
    only on its own role's host.
  - With O(file=vars), the value comes from the role's C(vars/main.yml) instead (a role's fixed facts, such as
    the service name of each balancer engine), with the same rules.
options:
  _terms:
    description: Names of role variables.
    type: list
    elements: str
    required: true
  file:
    description: Which of the role's variable files to read.
    type: str
    choices: [defaults, vars]
    default: defaults
    version_added: 0.2.0
"""

EXAMPLES = r"""
- name: Follow the backend's app port on this host, and the backend role's default where nothing sets it
  ansible.builtin.debug:
    msg: "{{ backend_app_port | default(lookup('highload.cluster.role_default', 'backend_app_port')) }}"

- name: The service name of each balancer engine, from the balancer role's vars
  ansible.builtin.debug:
    msg: "{{ lookup('highload.cluster.role_default', 'balancer_engine_settings', file='vars').nginx.service }}"

- name: The balancer's status port, from its inventory or else the balancer role's default
  ansible.builtin.debug:
    msg: >-
      {{ hostvars[groups['balancer'][0]].balancer_status_port
         | default(lookup('highload.cluster.role_default', 'balancer_status_port')) }}
"""

RETURN = r"""
_raw:
  description: Each variable's default, as the role's defaults file gives it (a port is a number).
  type: list
  elements: raw
"""

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from ansible.errors import AnsibleLookupError  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402

ROLES = Path(__file__).resolve().parent.parent.parent / "roles"


def owning_role(name: str, roles: list[str]) -> str:
    """The role whose name prefixes the variable (the longest, should one role's name start another's)."""
    owners = [role for role in roles if name.startswith(role + "_")]
    if not owners:
        raise AnsibleLookupError(
            f"role_default: {name!r} starts with no role's name of this collection ({', '.join(sorted(roles))})"
        )
    return max(owners, key=len)


def is_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(is_template(item) for item in [*value.keys(), *value.values()])
    if isinstance(value, list):
        return any(is_template(item) for item in value)
    return False


class LookupModule(LookupBase):
    """Each term's value from its owning role's defaults/main.yml (or vars/main.yml)."""

    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[Any]:
        self.set_options(var_options=variables, direct=kwargs)
        source = self.get_option("file")
        roles = sorted(path.name for path in ROLES.iterdir() if (path / source / "main.yml").is_file())
        values = []
        for term in terms:
            name = str(term)
            role = owning_role(name, roles)
            defaults = self._loader.load_from_file(str(ROLES / role / source / "main.yml")) or {}
            if name not in defaults:
                raise AnsibleLookupError(f"role_default: role {role}'s {source}/main.yml has no {name!r}")
            if is_template(defaults[name]):
                raise AnsibleLookupError(
                    f"role_default: role {role}'s default for {name!r} is a template, which means something "
                    "only on that role's host; read the variable there instead"
                )
            values.append(defaults[name])
        return values
