"""A Python where some packages cannot be imported, as on a controller that lacks them.

On PYTHONPATH, Python's `site` imports this file at start-up; every top-level package named in
HIGHLOAD_HIDE_PACKAGES (comma-separated import names, such as `digitalocean,matplotlib`) then fails to import
with ModuleNotFoundError, whether or not it is installed. tests/test_missing_packages.py uses it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType


class HiddenPackages(MetaPathFinder):
    """Refuses the named top-level packages (and everything inside them) before any other finder looks."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (hidden by the test)", name=fullname)
        return None


hidden = {name.strip() for name in os.environ.get("HIGHLOAD_HIDE_PACKAGES", "").split(",") if name.strip()}
if hidden:
    sys.meta_path.insert(0, HiddenPackages(hidden))
