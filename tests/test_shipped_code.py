"""The Python the collection ships (plugins, role files, the backend's sources) runs on a FIPS-mode host: every
MD5 or SHA-1 it computes is marked as not used for security, which FIPS-mode OpenSSL otherwise refuses."""

from __future__ import annotations

import ast

from project import TOP

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
