"""The release notes a user reads: galaxy.yml's version is a release recorded in changelogs/changelog.yaml and
written in CHANGELOG.md, the first release has nothing to break or remove, and no Ansible markup (C(...)),
which antsibull-changelog leaves verbatim in Markdown, shows up in the notes or in a fragment."""

from __future__ import annotations

import re

import yaml
from project import TOP

GALAXY = yaml.safe_load((TOP / "galaxy.yml").read_text())
CHANGES = yaml.safe_load((TOP / "changelogs" / "changelog.yaml").read_text())
ANSIBLE_MARKUP = re.compile(r"\b[BCEILMOPRUV]\\?\(")


def test_the_collection_version_is_a_release_in_the_changelog() -> None:
    version = GALAXY["version"]
    assert version in (CHANGES.get("releases") or {})
    assert f"## v{re.escape(version)}" in (TOP / "CHANGELOG.md").read_text()


def test_the_first_release_notes_have_no_breaking_changes_or_removed_features() -> None:
    releases = CHANGES.get("releases") or {}
    assert releases, "no release recorded"
    first = min(releases, key=lambda version: tuple(int(part) for part in version.split(".")))
    sections = set(releases[first].get("changes", {}))
    assert sections, "the first release records no changes"
    assert sections & {"breaking_changes", "removed_features", "deprecated_features"} == set()


def test_the_markup_check_finds_ansible_markup_as_markdown_and_rst_carry_it() -> None:
    assert ANSIBLE_MARKUP.search(r"uses C\(backend_info\) now")
    assert ANSIBLE_MARKUP.search("uses C(backend_info) now")
    assert not ANSIBLE_MARKUP.search("uses ``backend_info`` (the metric) now, see ABC(x)")


def test_no_ansible_markup_in_the_release_notes_or_the_fragments() -> None:
    texts = {"CHANGELOG.md": (TOP / "CHANGELOG.md").read_text()}
    texts.update(
        {path.relative_to(TOP).as_posix(): path.read_text() for path in (TOP / "changelogs/fragments").glob("*.yml")}
    )
    assert {name: ANSIBLE_MARKUP.findall(text) for name, text in texts.items() if ANSIBLE_MARKUP.search(text)} == {}
