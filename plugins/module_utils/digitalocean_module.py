"""What the DigitalOcean modules share: options, the client, and failing in DigitalOcean's words."""

from __future__ import annotations

import os
from typing import Any, Dict, NoReturn

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.highload.cluster.plugins.module_utils.digitalocean_api import (
    CLIENT_IMPORT_ERROR,
    CLIENT_LIBRARY,
    HAS_CLIENT,
    DigitalOceanClient,
    DigitalOceanError,
    resolve_token,
)


def api_argument_spec() -> Dict[str, Any]:
    """The api_* options (see the doc fragment highload.cluster.digitalocean)."""
    return {
        "api_token": {"type": "str", "no_log": True, "aliases": ["oauth_token"]},
        "api_timeout": {"type": "int", "default": 30},
        "api_retries": {"type": "int", "default": 5},
    }


def client_for(module: AnsibleModule) -> DigitalOceanClient:
    """A client with the module's token; fails the task when the library or the token is missing."""
    if not HAS_CLIENT:
        module.fail_json(msg=missing_required_lib(CLIENT_LIBRARY), exception=CLIENT_IMPORT_ERROR)
    try:
        token = resolve_token(module.params["api_token"], os.environ)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    # A token from the environment is masked in output like the no_log option is.
    module.no_log_values.add(token)
    return DigitalOceanClient(token, timeout=module.params["api_timeout"], retries=module.params["api_retries"])


def fail_with(module: AnsibleModule, error: DigitalOceanError, doing: str, **result: Any) -> NoReturn:
    """Fail the task saying what was being done and what DigitalOcean answered."""
    module.fail_json(msg="%s: %s" % (doing, error), api_error=error.as_dict(), **result)
    raise AssertionError("unreachable")  # fail_json exits
