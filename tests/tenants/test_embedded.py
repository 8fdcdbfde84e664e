"""The embedded runtime: PostgreSQL and Redis for a machine with only Python."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

PROBE = """
import json, sys
import psycopg, redis
from config import embedded
pg, rd = embedded.postgres(), embedded.redis()
with psycopg.connect(host=pg.host, port=pg.port, user="postgres", dbname="postgres") as conn:
    version = conn.execute("SHOW server_version").fetchone()[0]
pong = redis.Redis.from_url(rd.url).ping()
print(json.dumps({"pg": pg.pid, "redis": rd.pid, "port": rd.port, "version": version, "pong": pong,
                  "started": sorted(embedded.started_here)}))
"""


def _run(code: str, data_dir: str) -> str:
    env = {**os.environ, "EMBEDDED_DIR": data_dir}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def test_embedded_servers_start_are_reused_and_stop_cleanly():
    # Under the project, not /tmp: as root, pgserver runs PostgreSQL as another user, who must be
    # able to reach the folder (pytest's private temporary folders are closed to others).
    folder = ROOT / "var" / f"test-embedded-{uuid.uuid4().hex[:8]}"
    data_dir = str(folder)
    first = json.loads(_run(PROBE, data_dir))
    try:
        assert first["pong"] is True and first["version"].startswith("16")
        assert first["started"] == ["postgres", "redis"]
        assert _alive(first["pg"]) and _alive(first["redis"])

        second = json.loads(_run(PROBE, data_dir))  # a second start attaches to the same servers
        assert (second["pg"], second["redis"], second["port"]) == (first["pg"], first["redis"], first["port"])
        assert second["started"] == []
    finally:
        stopped = _run("from config import embedded; print(sorted(embedded.stop()))", data_dir)
    assert stopped == "['postgres', 'redis']"
    assert not _alive(first["pg"]) and not _alive(first["redis"])

    third = json.loads(_run(PROBE, data_dir))  # and starts again on the data it kept
    try:
        assert third["started"] == ["postgres", "redis"]
    finally:
        _run("from config import embedded; print(embedded.stop())", data_dir)
        shutil.rmtree(folder, ignore_errors=True)
