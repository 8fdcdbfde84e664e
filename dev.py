#!/usr/bin/env python3
"""The two commands, for a fresh machine with only Python 3.11 and pip.

    python3 dev.py run     set up, migrate, create the demo, run web + workers + beat (Ctrl-C stops)
    python3 dev.py test    set up and run the whole test suite

Set-up is a virtualenv in .venv with requirements.txt installed (again when it changes).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"


def setup() -> None:
    requirements = (ROOT / "requirements.txt").read_bytes()
    stamp = VENV / ".requirements.sha256"
    digest = hashlib.sha256(requirements).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    if not PYTHON.exists():
        print("Creating the virtualenv in .venv …", flush=True)
        venv.create(VENV, with_pip=True)
    print("Installing requirements.txt …", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True)
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__)
        return 2
    setup()
    env = dict(os.environ)
    if argv[0] == "run":
        env.setdefault("DJANGO_ENV", "development")
        command = [str(PYTHON), "manage.py", "run", *argv[1:]]
    else:
        env["DJANGO_ENV"] = "test"
        command = [str(PYTHON), "-m", "pytest", "-n", env.get("TEST_PROCESSES", "2"), *argv[1:]]
    os.chdir(ROOT)
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
