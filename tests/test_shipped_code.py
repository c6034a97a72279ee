"""The Python the collection ships (plugins, role files, the backend's sources) runs on a FIPS-mode host: every
MD5 or SHA-1 it computes is marked as not used for security, which FIPS-mode OpenSSL otherwise refuses."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import yaml
from project import TOP

sys.path.insert(0, str(TOP / ".collections"))

SHIPPED_PYTHON = ("plugins", "roles", "backend_app/src")
WEAK = {"md5", "sha1"}


def weak_hashes_without_usedforsecurity_false(source: str) -> list[int]:
    """The lines of hashlib.md5/sha1(...) and hashlib.new('md5'/'sha1', ...) calls not given usedforsecurity=False."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        func = node.func
        if not (isinstance(func.value, ast.Name) and func.value.id == "hashlib"):
            continue
        named = (
            func.attr == "new"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).lower() in WEAK
        )
        if func.attr not in WEAK and not named:
            continue
        marked = any(
            keyword.arg == "usedforsecurity"
            and isinstance(keyword.value, ast.Constant)
            and keyword.value.value is False
            for keyword in node.keywords
        )
        if not marked:
            lines.append(node.lineno)
    return lines


def test_the_scan_finds_an_unmarked_md5_and_sha1_and_accepts_marked_ones() -> None:
    source = (
        "import hashlib\n"
        "a = hashlib.md5(b'x')\n"
        "b = hashlib.new('sha1')\n"
        "c = hashlib.sha1(usedforsecurity=False)\n"
        "d = hashlib.sha256(b'x')\n"
        "e = hashlib.md5(b'x', usedforsecurity=True)\n"
    )
    assert weak_hashes_without_usedforsecurity_false(source) == [2, 3, 6]


def test_every_md5_and_sha1_in_shipped_code_is_marked_not_for_security() -> None:
    files = [path for folder in SHIPPED_PYTHON for path in sorted((TOP / folder).rglob("*.py"))]
    assert files, "no shipped Python found: the scan would prove nothing"
    found = {
        path.relative_to(TOP).as_posix(): lines
        for path in files
        if (lines := weak_hashes_without_usedforsecurity_false(path.read_text()))
    }
    assert found == {}


def jinja_plugins(path: Path) -> set[str]:
    """The names a filter or test plugin file offers (its FilterModule's filters or TestModule's tests)."""
    module = importlib.import_module(f"ansible_collections.highload.cluster.plugins.{path.parent.name}.{path.stem}")
    if path.parent.name == "filter":
        return set(module.FilterModule().filters())
    return set(module.TestModule().tests())


def test_each_filter_and_test_plugin_file_offers_the_one_plugin_its_documentation_names() -> None:
    """Galaxy lists a filter or test plugin by its file, with the description of the YAML file of that name: a file
    offering more names (or one of another name) is listed undocumented and its plugins unlisted."""
    mismatched = []
    for kind in ("filter", "test"):
        folder = TOP / "plugins" / kind
        code = {path.stem for path in folder.glob("*.py")}
        docs = {path.stem for path in folder.glob("*.yml")}
        assert code, f"no {kind} plugins found: the check would prove nothing"
        mismatched += [f"{kind}/{stem}.py has no {stem}.yml" for stem in sorted(code - docs)]
        mismatched += [f"{kind}/{stem}.yml has no {stem}.py" for stem in sorted(docs - code)]
        for stem in sorted(code):
            if (offered := jinja_plugins(folder / f"{stem}.py")) != {stem}:
                mismatched.append(f"{kind}/{stem}.py offers {sorted(offered)}")
        for stem in sorted(docs):
            name = yaml.safe_load((folder / f"{stem}.yml").read_text())["DOCUMENTATION"]["name"]
            if name != stem:
                mismatched.append(f"{kind}/{stem}.yml documents {name}")
    assert mismatched == []
