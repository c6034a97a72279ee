"""Run galaxy-importer on a collection tarball and fail on what it finds that is the collection's own doing.

    galaxy_import.py TARBALL        (scripts/galaxy_import.sh runs it in the importer's venv)

Read: the importer's log (its WARNING and ERROR lines, ansible-lint's findings among them) and its result (each
plugin's and role's description as Galaxy would list it). Not ours, and so left out (each printed as such):

- ansible-lint's syntax-check[unknown-module] on a module of a collection galaxy.yml depends on (community.docker,
  community.general): the importer installs no dependency, so it cannot resolve them; scripts/test.sh's own
  ansible-lint runs with them installed and checks those tasks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile

# The content types Galaxy lists with a description (module_utils, doc fragments and playbooks have none).
DESCRIBED = {"module", "filter", "test", "lookup", "inventory", "role"}


def dependencies(tarball: str) -> list[str]:
    """The collections galaxy.yml depends on, from the tarball's MANIFEST.json."""
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("MANIFEST.json")
        assert member is not None
        return sorted(json.load(member)["collection_info"]["dependencies"])


def license_only_ignores(tarball: str) -> set[str]:
    """The sanity ignore files whose every entry is validate-modules:missing-gplv3-license: ansible-test wants a
    GPLv3 header in each module, which an Apache-2.0 collection cannot carry without misstating its license."""
    found = set()
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            name = member.name.removeprefix("./")
            if re.fullmatch(r"tests/sanity/ignore-[\d.]+\.txt", name):
                handle = archive.extractfile(member)
                assert handle is not None
                entries = [line.split("#")[0].split() for line in handle.read().decode().splitlines()]
                if all(entry[1:] == ["validate-modules:missing-gplv3-license"] for entry in entries if entry):
                    found.add(name.rsplit("/", 1)[1])
    return found


def not_ours(line: str, depended_on: list[str], license_only: set[str]) -> str | None:
    """Why a log line is not of the collection's own making, or None when it is."""
    match = re.search(r"syntax-check\[unknown-module\]: couldn't resolve module/action '([\w.]+)'", line)
    if match and any(match.group(1).startswith(name + ".") for name in depended_on):
        return "a module of a dependency, which the importer does not install"
    match = re.search(r"Ignore files skip ansible-test sanity tests, found (ignore-[\d.]+\.txt)", line)
    if match and match.group(1) in license_only:
        return "its only entries are validate-modules:missing-gplv3-license: the collection is Apache-2.0"
    return None


def main(tarball: str) -> int:
    # It writes importer_result.json where it runs: beside the tarball, out of the checkout.
    tarball = os.path.abspath(tarball)
    proc = subprocess.run(
        [sys.executable, "-m", "galaxy_importer.main", "--print-result", tarball],
        cwd=os.path.dirname(tarball),
        capture_output=True,
        text=True,
        check=False,
    )
    output = proc.stdout + proc.stderr
    # The log, then (--print-result) the result as JSON from its first line that opens an object.
    start = output.find("\n{")
    log, result = (output[:start], json.loads(output[start:])) if start >= 0 else (output, {})
    print(log)
    depended_on = dependencies(tarball)
    license_only = license_only_ignores(tarball)
    problems: list[str] = []
    for line in log.splitlines():
        if re.match(r"(WARNING|ERROR|CRITICAL)\b", line):
            reason = not_ours(line, depended_on, license_only)
            if reason:
                print(f"[galaxy-import] not ours ({reason}): {line}")
            else:
                problems.append(line)
    for content in result.get("contents", []):
        key = (content["content_type"], content["name"])
        if content["content_type"] in DESCRIBED and not content.get("description"):
            problems.append(f"{key[0]} {key[1]}: no description in Galaxy's listing")
    if proc.returncode != 0 or "Importer processing completed successfully" not in output:
        problems.append(f"galaxy-importer did not complete (exit {proc.returncode})")
    for problem in problems:
        print(f"[galaxy-import] ours: {problem}", file=sys.stderr)
    print(f"[galaxy-import] {'failed' if problems else 'passed'}: {len(problems)} finding(s) of the collection's own")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
