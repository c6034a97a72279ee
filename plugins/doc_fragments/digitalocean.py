"""Options every highload.cluster module and plugin that talks to DigitalOcean shares."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  api_token:
    description:
      - DigitalOcean API token (read and write scopes for what the task does).
      - When not given, the first of the environment variables E(DIGITALOCEAN_ACCESS_TOKEN) and
        E(DO_API_TOKEN) that is set.
      - The token is never shown in output, errors or logs.
    type: str
    aliases: [oauth_token]
  api_timeout:
    description: Seconds one HTTP request to the API may take.
    type: int
    default: 30
  api_retries:
    description:
      - How many times a call is retried after a 429 (waiting as the rate-limit headers say), a 5xx or a
        timeout, before the task fails with what DigitalOcean said.
    type: int
    default: 5
notes:
  - The API end point is U(https://api.digitalocean.com/v2/); the environment variable
    E(DIGITALOCEAN_END_POINT) points python-digitalocean elsewhere (a proxy, or a test double).
requirements:
  - python-digitalocean (on the host that runs the task, usually the controller)
"""
