"""Every nginx config the roles render (the sidecar, the balancer with each engine) passes gixy-ng.

gixy-ng flags, among others, `return` next to allow/deny (return runs before
them, so a denied client got the page), stub_status without an allow-list in
its location, and worker_rlimit_nofile below twice worker_connections.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from project import run
from test_balancer_config import render as render_balancer
from test_sidecar_config import render as render_sidecar

# try_files_is_evil_too is a performance hint for sites that serve files (use
# open_file_cache): the balancer's status listener uses try_files only to answer
# 404 after the access check, for a file that never exists, a few times a minute.
SKIPPED = ["try_files_is_evil_too"]


def sidecar() -> Path:
    result, rendered = render_sidecar(None)
    assert result.returncode == 0, result.stdout
    return rendered.conf


def balancer(engine: str) -> Callable[[], Path]:
    def rendered_conf() -> Path:
        result, rendered = render_balancer(engine, 8080, balancer_admin_allow=["10.1.0.0/16"])
        assert result.returncode == 0, result.stdout
        return rendered.conf

    return rendered_conf


@pytest.mark.parametrize(
    "rendered_conf",
    [sidecar, balancer("openresty"), balancer("nginx")],
    ids=["nginx_sidecar", "balancer-openresty", "balancer-nginx"],
)
def test_rendered_nginx_config_has_no_gixy_findings(rendered_conf: Callable[[], Path]) -> None:
    conf = rendered_conf()
    try:
        lint = run("gixy", "--format", "json", "--skips", ",".join(SKIPPED), str(conf))
        findings = json.loads(lint.stdout or "[]")
        assert lint.returncode == 0 and findings == [], lint.stdout + lint.stderr
    finally:
        shutil.rmtree(conf.parent, ignore_errors=True)
