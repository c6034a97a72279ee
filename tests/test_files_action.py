"""highload.cluster.files, run for real on localhost: it writes what differs from the host (content, mode, a
missing folder) and nothing else, with one call on the host when nothing differs, validates a file before it
replaces the live one, and under --check reports without writing. Then its pieces: the mode, the comparison, the
items it refuses."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from project import TOP, run_tasks

sys.path.insert(0, str(TOP / ".collections"))
from ansible.errors import AnsibleActionFail
from ansible_collections.highload.cluster.plugins.action.files import checked_items, differs, octal_mode


def files_task(tmp_path: Path, files: list[dict[str, Any]], **options: Any) -> tuple[str, dict[str, Any]]:
    """One highload.cluster.files task on localhost (the host's temporary folders in tmp_path/remote): what the
    run printed, and the task's result."""
    task = {"name": "The files", "highload.cluster.files": {"files": files}}
    env = {"ANSIBLE_REMOTE_TMP": str(tmp_path / "remote")}
    proc, results = run_tasks([task], tmp_path / "run", env, **options)
    assert results, proc.stdout + proc.stderr
    return proc.stdout, results[0]


def test_files_writes_what_differs_and_nothing_when_the_host_matches(tmp_path: Path) -> None:
    folder, conf = tmp_path / "etc", tmp_path / "etc" / "app.conf"
    files = [
        {"path": str(folder), "state": "directory", "mode": "0750"},
        {"path": str(conf), "content": "port=1\n", "mode": "0640"},
    ]
    _, first = files_task(tmp_path, files)
    assert first["changed"] and first["written"] == [str(folder), str(conf)]
    assert conf.read_text() == "port=1\n" and oct(conf.stat().st_mode & 0o777) == "0o640"
    assert oct(folder.stat().st_mode & 0o777) == "0o750"
    output, again = files_task(tmp_path, files, verbose=True)
    assert not again["changed"] and again["written"] == []
    # One call on the host (host_state's look, piped in): no temporary folder, no stat or file module per item.
    task = output.split("TASK [The files]", 1)[1].split("\nTASK [", 1)[0]
    assert len(re.findall(r"^<localhost> EXEC ", task, re.MULTILINE)) == 1, task
    conf.chmod(0o644)  # a mode changed by hand: only that file is written again
    _, repaired = files_task(tmp_path, files)
    assert repaired["written"] == [str(conf)] and oct(conf.stat().st_mode & 0o777) == "0o640"


def test_files_under_check_reports_the_drift_and_writes_nothing(tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("port=1\n")
    _, checked = files_task(tmp_path, [{"path": str(conf), "content": "port=2\n", "mode": "0644"}], check=True)
    assert checked["changed"] and checked["written"] == [str(conf)]
    assert conf.read_text() == "port=1\n"


def test_files_validates_a_file_before_it_replaces_the_live_one(tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("port=1\n")
    item = {"path": str(conf), "content": "broken\n", "validate": "grep -q port= %s"}
    _, failed = files_task(tmp_path, [item])
    assert failed["failed"] and "failed to validate" in failed["msg"]
    assert conf.read_text() == "port=1\n"
    assert not list((tmp_path / "remote").glob("ansible-tmp-*")), "the copy's temporary folder is removed"


def test_octal_mode_reads_strings_and_the_integer_yaml_makes_of_0644() -> None:
    assert octal_mode("0644") == octal_mode("644") == octal_mode(0o644) == "0644"
    assert octal_mode(None) is None
    for wrong in ("u+rw", "0844", True):
        with pytest.raises(AnsibleActionFail):
            octal_mode(wrong)


def test_differs_compares_kind_content_mode_owner_and_group() -> None:
    found = {"exists": True, "directory": False, "sha1": hashlib.sha1(b"x\n").hexdigest(), "mode": "0644"}
    found.update(owner="root", group="root")
    item = {"path": "/f", "content": "x\n", "mode": "0644", "owner": "root", "group": "root"}
    assert not differs(item, found)
    assert differs({**item, "content": "y\n"}, found)
    assert differs({**item, "mode": "0600"}, found)
    assert differs({**item, "owner": "nobody"}, found)
    assert differs({**item, "group": "adm"}, found)
    assert differs(item, {"exists": False})
    assert differs({"path": "/f", "state": "directory"}, found)
    assert not differs({"path": "/f", "content": "x\n"}, {**found, "mode": "0600", "owner": "nobody"})


@pytest.mark.parametrize(
    "files",
    [
        [],
        [{"content": "x"}],
        [{"path": "/f"}],
        [{"path": "/d", "state": "directory", "content": "x"}],
        [{"path": "/d", "state": "directory", "validate": "true %s"}],
        [{"path": "/f", "content": "x", "src": "f.j2"}],
        [{"path": "/f", "state": "link"}],
    ],
)
def test_checked_items_refuses_an_item_it_cannot_write(files: list[dict[str, Any]]) -> None:
    with pytest.raises(AnsibleActionFail):
        checked_items(files)


@pytest.mark.parametrize("path", ["", "relative/app.conf", "~/app.conf"])
def test_checked_items_refuses_a_path_that_is_not_absolute_and_never_says_the_content(path: str) -> None:
    """host_state reads the path as given, copy expands it: only an absolute path is the same file to both. The
    message is shown even under no_log (ansible-core prints a failed task's message): it names no content."""
    with pytest.raises(AnsibleActionFail) as refused:
        checked_items([{"path": "/etc/ok.conf", "content": "x\n"}, {"path": path, "content": "token=s3cr3t-t0ken\n"}])
    assert "s3cr3t" not in str(refused.value) and "item 2" in str(refused.value)


def test_files_under_no_log_shows_no_content_when_an_item_is_refused(tmp_path: Path) -> None:
    """A path variable left empty: the task fails, and neither its message nor anything else printed holds the
    content (ansible-core 2.19 prints a failed task's message even under no_log)."""
    task = {
        "name": "The files",
        "highload.cluster.files": {"files": [{"path": "", "content": "token=s3cr3t-t0ken\n", "mode": "0600"}]},
        "no_log": True,
    }
    proc, results = run_tasks([task], tmp_path / "run", {"ANSIBLE_REMOTE_TMP": str(tmp_path / "remote")})
    assert results and results[0]["failed"], proc.stdout + proc.stderr
    assert "s3cr3t" not in proc.stdout + proc.stderr
