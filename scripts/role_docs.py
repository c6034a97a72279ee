#!/usr/bin/env python3
"""Keep each role's README variable table and argument spec true to its defaults.

role_docs.py          rewrite the tables between the markers in roles/*/README.md
role_docs.py --check  fail (exit 1) where a table is stale, or where
                      defaults/main.yml and meta/argument_specs.yml disagree
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

BEGIN = "<!-- BEGIN VARIABLES (scripts/role_docs.py) -->"
END = "<!-- END VARIABLES -->"
ROLES = Path(__file__).resolve().parent.parent / "roles"


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def spec_options(role: Path) -> dict[str, dict[str, Any]]:
    return load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"].get("options", {})


def mismatches(role: Path) -> list[str]:
    defaults = load(role / "defaults" / "main.yml")
    options = spec_options(role)
    problems = [f"{name}: in defaults/main.yml, not in the argument spec" for name in defaults.keys() - options.keys()]
    for name, option in options.items():
        if name not in defaults:
            if not option.get("required"):
                problems.append(f"{name}: in the argument spec, neither required nor in defaults/main.yml")
        elif option.get("default") != defaults[name]:
            spec_default = option.get("default")
            problems.append(f"{name}: default {defaults[name]!r} in defaults/main.yml, {spec_default!r} in the spec")
    return [f"{role.name}: {problem}" for problem in problems]


def cell(value: Any) -> str:
    text = " ".join(value) if isinstance(value, list) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def table(role: Path) -> str:
    rows = ["| variable | type | default | description |", "| --- | --- | --- | --- |"]
    for name, option in sorted(spec_options(role).items()):
        default = "*required*" if option.get("required") else f"`{option.get('default')!r}`".replace("'", '"')
        kind = option.get("type", "str")
        if option.get("elements"):
            kind += f" of {option['elements']}"
        if option.get("choices"):
            kind += " (" + ", ".join(map(str, option["choices"])) + ")"
        rows.append(f"| `{name}` | {kind} | {cell(default)} | {cell(option.get('description', ''))} |")
    return "\n".join(rows)


def render(readme: str, body: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{body}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check; change nothing")
    check = parser.parse_args().check
    failures: list[str] = []
    for role in sorted(p for p in ROLES.iterdir() if (p / "meta" / "argument_specs.yml").exists()):
        failures += mismatches(role)
        readme_path = role / "README.md"
        readme = readme_path.read_text() if readme_path.exists() else ""
        if BEGIN not in readme:
            failures.append(f"{role.name}: README.md has no variable table markers")
            continue
        wanted = render(readme, table(role))
        if wanted != readme:
            if check:
                failures.append(f"{role.name}: README.md variable table is stale (run scripts/role_docs.py)")
            else:
                readme_path.write_text(wanted)
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
