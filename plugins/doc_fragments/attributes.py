"""The attributes (check mode, diff mode) that several highload.cluster modules share, each said once.

A module's own entry for an attribute overrides the fragment's, so a module takes a fragment for the
attribute that reads the same and writes the other itself.
"""

from __future__ import annotations


class ModuleDocFragment:
    # Check mode of a module that changes something through an API (droplet, firewall, reserved_ip, ssh_key).
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: Reports what would change; no call that changes anything is made.
"""

    # A module that only reads (droplet_info, firewall_info, host_state).
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: Reads only, in check mode as in a real run.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
"""
