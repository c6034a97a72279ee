"""What the DigitalOcean modules share: options, the client, and failing in DigitalOcean's words."""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, NoReturn, Optional

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    CLIENT_IMPORT_ERROR,
    CLIENT_LIBRARY,
    HAS_CLIENT,
    TOKEN_ENV_VARS,
    Deadline,
    DigitalOceanClient,
    DigitalOceanError,
    WaitTimeout,
    mask_token,
    resolve_token,
)

# The AnsibleModule arguments of a module that manages one record found by its name, or deletes one by its id
# (droplet, firewall): one of the two, never both.
NAME_OR_ID: Dict[str, Any] = {"required_one_of": [("name", "id")], "mutually_exclusive": [("name", "id")]}


def api_argument_spec() -> Dict[str, Any]:
    """The api_* options (see the doc fragment highload.cluster.digitalocean); the token from the environment
    when the task gives none."""
    return {
        "api_token": {
            "type": "str",
            "no_log": True,
            "aliases": ["oauth_token"],
            "fallback": (env_fallback, list(TOKEN_ENV_VARS)),
        },
        "api_timeout": {"type": "int", "default": 30},
        "api_retries": {"type": "int", "default": 5},
    }


def client_for(module: AnsibleModule, deadline: Optional[Deadline] = None) -> DigitalOceanClient:
    """A client with the module's token; fails the task when the library or a usable token is missing.

    Without a deadline of the task's own, the calls and their retries get
    api_timeout for each attempt they may make.
    """
    if not HAS_CLIENT:
        module.fail_json(msg=missing_required_lib(CLIENT_LIBRARY), exception=CLIENT_IMPORT_ERROR)
    try:
        # env_fallback takes the first variable that is set, blank or not: a blank one (or a blank api_token)
        # falls through to the next variable, as the inventory plugin and provision.yml's check read them.
        token = resolve_token(module.params["api_token"], os.environ)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    # A token from the environment, and the token as cleaned, are masked in output like the no_log option is.
    module.no_log_values.add(token)
    timeout, retries = module.params["api_timeout"], module.params["api_retries"]
    budget = deadline or Deadline(float(timeout) * (max(retries, 0) + 1))
    return DigitalOceanClient(token, timeout=timeout, retries=retries, deadline=budget)


def fail_with(module: AnsibleModule, error: DigitalOceanError, doing: str, **result: Any) -> NoReturn:
    """Fail the task saying what was being done and what DigitalOcean answered."""
    module.fail_json(msg="%s: %s" % (doing, error), api_error=error.as_dict(), **result)
    raise AssertionError("unreachable")  # fail_json exits


def run_task(module: AnsibleModule, client: DigitalOceanClient, doing: str, task: Callable[[], Dict[str, Any]]) -> None:
    """Run the module's work and exit with its result; every failure in words, the token masked."""

    def changed() -> bool:
        return bool(getattr(getattr(task, "__self__", None), "changed", False))

    try:
        result = task()
    except DigitalOceanError as exc:
        fail_with(module, exc, doing, changed=changed())
    except WaitTimeout as exc:
        module.fail_json(msg="%s: %s; run the task again to go on waiting" % (doing, exc), changed=changed())
    except Exception as exc:  # whatever raised, the task fails in words and without the token
        module.fail_json(
            msg=mask_token("%s: unexpected %s: %s" % (doing, type(exc).__name__, exc), client.secret),
            changed=changed(),
        )
    module.exit_json(**result)
