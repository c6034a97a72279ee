"""Action highload.cluster.files: a role's files and folders in one task, compared with the host in one call."""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase

KEYS = {"path", "content", "state", "mode", "owner", "group", "validate"}


def octal_mode(mode: Any) -> Optional[str]:
    """The mode as host_state reports it ("0644"), from "0644", "644" or the integer YAML makes of 0644."""
    if mode is None:
        return None
    if isinstance(mode, bool):
        raise AnsibleActionFail("mode %r is no octal mode" % (mode,))
    if isinstance(mode, int):
        return "%04o" % mode
    text = str(mode)
    if not text or any(char not in "01234567" for char in text):
        raise AnsibleActionFail("mode %r is no octal mode such as '0644' (symbolic modes are not taken)" % (mode,))
    return "%04o" % int(text, 8)


def checked_items(files: Any) -> List[Dict[str, Any]]:
    """The items as given, each with an absolute path and either content or state directory.

    A message names an item by its place and its keys, never its values: ansible-core prints a failed task's
    message even under no_log, and a content may hold a secret."""
    if not isinstance(files, list) or not files:
        raise AnsibleActionFail("files takes a list of {path, content or state: directory, mode, owner, group}")
    for number, item in enumerate(files, start=1):
        if not isinstance(item, dict):
            raise AnsibleActionFail("item %d of files is no dict (a %s)" % (number, type(item).__name__))
        if not isinstance(item.get("path"), str) or not item["path"].startswith("/"):
            # host_state reads the path as given and copy expands it: only an absolute one is the same file to both.
            raise AnsibleActionFail(
                "item %d of files (keys %s) needs an absolute path" % (number, ", ".join(sorted(map(str, item))))
            )
        unknown = set(item) - KEYS
        if unknown:
            raise AnsibleActionFail("%s: unknown keys %s" % (item["path"], ", ".join(sorted(unknown))))
        directory = item.get("state", "file") == "directory"
        if item.get("state", "file") not in ("file", "directory"):
            raise AnsibleActionFail("%s: state is file or directory" % item["path"])
        if directory == ("content" in item):
            raise AnsibleActionFail("%s: a file takes content, a folder (state: directory) none" % item["path"])
        if directory and "validate" in item:
            raise AnsibleActionFail("%s: a folder has nothing to validate" % item["path"])
    return files


def differs(item: Dict[str, Any], found: Dict[str, Any]) -> bool:
    """Whether the host's path (as host_state read it) differs from the item."""
    directory = item.get("state") == "directory"
    if not found.get("exists") or bool(found.get("directory")) != directory:
        return True
    if not directory:
        digest = hashlib.sha1(to_bytes(item["content"]), usedforsecurity=False).hexdigest()  # as host_state's
        if found.get("sha1") != digest:
            return True
    wanted = {"mode": octal_mode(item.get("mode")), "owner": item.get("owner"), "group": item.get("group")}
    return any(value is not None and found.get(key) != str(value) for key, value in wanted.items())


class ActionModule(ActionBase):
    # No temporary folder on the host up front (three more calls on a run that writes nothing): the copy
    # action makes its own when a file is written, and run() removes it.
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("files",))

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        ours = self._connection._shell.tmpdir is None  # a temporary folder made from here on is this task's
        try:
            items = checked_items(self._task.args.get("files"))
            look = self._execute_module(
                module_name="highload.cluster.host_state",
                module_args={"files": [item["path"] for item in items]},
                task_vars=task_vars,
            )
            if look.get("failed"):
                raise AnsibleActionFail("could not read the paths: %s" % look.get("msg", look))
            written: List[str] = []
            diffs: List[Any] = []
            for item in items:
                if not differs(item, look["files"][item["path"]]):
                    continue
                done = self._write(item, task_vars)
                if done.get("failed"):
                    raise AnsibleActionFail("%s: %s" % (item["path"], done.get("msg", "failed")), result=done)
                if done.get("changed"):
                    written.append(item["path"])
                    if done.get("diff"):
                        diffs.extend(done["diff"] if isinstance(done["diff"], list) else [done["diff"]])
            result.update(changed=bool(written), written=written)
            if diffs:
                result["diff"] = diffs
        finally:
            # The copy action leaves its temporary folder behind when a file fails to validate.
            if ours and self._connection._shell.tmpdir:
                self._remove_tmp_path(self._connection._shell.tmpdir, force=True)
        return result

    def _write(self, item: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Write one item with Ansible's own file module (a folder) or copy action (a file, validated first)."""
        owned = {key: item[key] for key in ("mode", "owner", "group") if item.get(key) is not None}
        if item.get("state") == "directory":
            return self._execute_module(
                module_name="ansible.legacy.file",
                module_args={"path": item["path"], "state": "directory", **owned},
                task_vars=task_vars,
            )
        task = self._task.copy()
        task.args = {"content": item["content"], "dest": item["path"], **owned}
        if item.get("validate"):
            task.args["validate"] = item["validate"]
        copy = self._shared_loader_obj.action_loader.get(
            "ansible.legacy.copy",
            task=task,
            connection=self._connection,
            play_context=self._play_context,
            loader=self._loader,
            templar=self._templar,
            shared_loader_obj=self._shared_loader_obj,
        )
        return copy.run(task_vars=task_vars)
