"""highload.cluster.files, run for real on localhost: it writes what differs from the host (content, mode, a
missing folder) and nothing else, validates a file before it replaces the live one, notifies only when it wrote,
and under --check reports without writing. Then its pieces: the mode, the comparison, the items it refuses."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from project import TOP, run

sys.path.insert(0, str(TOP / ".collections"))
from ansible.errors import AnsibleActionFail
from ansible_collections.highload.cluster.plugins.action.files import checked_items, differs, octal_mode


def play(tmp_path: Path, files: list[dict[str, Any]], *args: str, expect_failure: bool = False) -> str:
    """One highload.cluster.files task on localhost, with a handler that says it ran; the host's temporary
    folders in tmp_path/remote."""
    book = tmp_path / "play.yml"
    book.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": sys.executable},
                    "handlers": [{"name": "Written", "ansible.builtin.debug": {"msg": "the handler ran"}}],
                    "tasks": [
                        {
                            "name": "The files",
                            "highload.cluster.files": {"files": files},
                            "register": "result",
                            "notify": "Written",
                        },
                        {"ansible.builtin.debug": {"msg": "written=[{{ result.written | join(',') }}]"}},
                    ],
                }
            ]
        )
    )
    env = {"ANSIBLE_NOCOLOR": "1", "ANSIBLE_REMOTE_TMP": str(tmp_path / "remote")}
    result = run("ansible-playbook", "-i", "localhost,", str(book), *args, env=env)
    assert (result.returncode != 0) == expect_failure, result.stdout + result.stderr
    return result.stdout


def written(output: str) -> list[str]:
    """The paths the task wrote, as the debug task after it printed them."""
    found = re.search(r"written=\[([^\]]*)\]", output)
    assert found, output
    return [path for path in found.group(1).split(",") if path]


def test_files_writes_what_differs_and_nothing_when_the_host_matches(tmp_path: Path) -> None:
    folder, conf = tmp_path / "etc", tmp_path / "etc" / "app.conf"
    files = [
        {"path": str(folder), "state": "directory", "mode": "0750"},
        {"path": str(conf), "content": "port=1\n", "mode": "0640"},
    ]
    first = play(tmp_path, files)
    assert written(first) == [str(folder), str(conf)] and "the handler ran" in first
    assert conf.read_text() == "port=1\n" and oct(conf.stat().st_mode & 0o777) == "0o640"
    assert oct(folder.stat().st_mode & 0o777) == "0o750"
    again = play(tmp_path, files, "-vvv")
    assert written(again) == [] and "changed=0" in again and "the handler ran" not in again
    # One call on the host (host_state's look, piped in): no temporary folder, no stat or file module per item.
    task = again.split("TASK [The files]", 1)[1].split("\nTASK [", 1)[0]
    assert len(re.findall(r"^<localhost> EXEC ", task, re.MULTILINE)) == 1, task
    conf.chmod(0o644)  # a mode changed by hand: only that file is written again
    repaired = play(tmp_path, files)
    assert written(repaired) == [str(conf)] and oct(conf.stat().st_mode & 0o777) == "0o640"


def test_files_under_check_reports_the_drift_and_writes_nothing(tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("port=1\n")
    checked = play(tmp_path, [{"path": str(conf), "content": "port=2\n", "mode": "0644"}], "--check", "--diff")
    assert written(checked) == [str(conf)] and "+port=2" in checked
    assert conf.read_text() == "port=1\n"


def test_files_validates_a_file_before_it_replaces_the_live_one(tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("port=1\n")
    item = {"path": str(conf), "content": "broken\n", "validate": "grep -q port= %s"}
    failed = play(tmp_path, [item], expect_failure=True)
    assert "failed to validate" in failed and "the handler ran" not in failed
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
