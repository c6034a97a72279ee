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
      - White space around the token (a file read with C(cat), a YAML block, a vault value) is removed; a token
        with a control character inside is refused before anything is sent.
      - The token is never shown in output, errors or logs.
    type: str
    aliases: [oauth_token]
  api_timeout:
    description:
      - Seconds one HTTP request to the API may take. A request that changes something and gets no answer in
        that time is not sent again; the module looks at what happened first.
    type: int
    default: 30
  api_retries:
    description:
      - How many times a call is sent again when that is safe, before the task fails with what DigitalOcean
        said. Safe are a 429 (the API did not act, and the module waits as Retry-After or the rate-limit headers
        say, within the task's time budget), a connection refused before anything was sent, and reads and
        deletes after a 5xx, a reset or a timeout.
      - A create, an upload or a power action is never sent twice blindly.
    type: int
    default: 5
notes:
  - The API end point is U(https://api.digitalocean.com/v2/); the environment variable
    E(DIGITALOCEAN_END_POINT) points python-digitalocean elsewhere (a proxy, or a test double).
requirements:
  - python-digitalocean (on the host that runs the task, usually the controller)
"""
