"""The web and worker processes tune their garbage collector once started (config/collector.py)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest
from celery.signals import worker_process_init
from django.conf import settings

from tests.conftest import ROOT, child_env

REPORT = "import gc, json; print(json.dumps([gc.get_threshold()[0], gc.get_freeze_count()]))"


def test_the_web_application_freezes_what_it_loaded_and_collects_young_objects_less_often(db):
    loaded = subprocess.run(
        [sys.executable, "-c", f"import config.asgi; {REPORT}"],
        env={**child_env(), "CONSOLE_NODE": "collector-test"},  # forgets no test server's consoles
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    threshold, frozen = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert threshold == settings.GC_YOUNG_THRESHOLD != 700  # CPython's default
    assert frozen > 10_000  # Django and the application's code, never walked again


LOADED = (
    "import json, sys; from django.conf import settings; from django.urls import get_resolver; "
    "print(json.dumps([u in sys.modules and 'url_patterns' in vars(get_resolver(u)) "
    "for u in (settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF)]))"
)


@pytest.mark.parametrize("application", ["config.asgi", "config.wsgi"])
def test_a_server_process_imports_its_url_confs_before_the_first_request(db, application):
    """Not at the first caller's webhook (config/startup.py); and, imported before the freeze,
    frozen with the rest."""
    started = subprocess.run(
        [sys.executable, "-c", f"import {application}; {LOADED}; {REPORT}"],
        env={**child_env(), "CONSOLE_NODE": "collector-test"},
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    *_, loaded, report = started.stdout.strip().splitlines()
    assert json.loads(loaded) == [True, True]
    threshold, frozen = json.loads(report)
    assert threshold == settings.GC_YOUNG_THRESHOLD and frozen > 10_000


@pytest.fixture
def collector_restored():
    """This test process's collector as it was (the worker's signal tunes the process it runs in)."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_a_worker_process_tunes_its_collector_once_forked(collector_restored):
    gc.unfreeze()
    worker_process_init.send(sender=None)  # as Celery does in each process of a prefork pool
    assert gc.get_threshold()[0] == settings.GC_YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 10_000
