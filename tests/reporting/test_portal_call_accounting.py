"""The dashboard's tiles account for every incoming call, and a call's detail names the script
version it ran (issue 21: "offered 32 = answered 27 + abandoned 0" left voicemails and callbacks out)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from scripts_engine.models import Script, ScriptSession, ScriptVersion
from telephony.calls.models import Call
from tests.conftest import logged_in, make_user
from tests.factories import CallFactory

PARTS = ("answered", "abandoned", "voicemails", "callbacks_requested", "ivr_contained", "other_calls")


@pytest.fixture
def viewer(db, tenants):
    return logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))


def test_the_tiles_add_up_to_every_incoming_call(tenants, viewer):
    now = timezone.now()
    queued = {"started_at": now, "queued_at": now, "wait_seconds": 30}
    with tenant_context(tenants.alpha):
        CallFactory(started_at=now, answered=True)
        CallFactory(started_at=now, abandoned=True)
        CallFactory(**queued, outcome=Call.Outcome.VOICEMAIL)
        CallFactory(**queued, outcome=Call.Outcome.VOICEMAIL)
        CallFactory(**queued, outcome=Call.Outcome.CALLBACK_REQUESTED)
        CallFactory(started_at=now, outcome=Call.Outcome.CALLBACK_REQUESTED)  # after hours: never queued
        CallFactory(started_at=now, ivr_contained=True)
        CallFactory(started_at=now, outcome=Call.Outcome.FAILED)
        CallFactory(**queued)  # waiting now
        CallFactory(started_at=now, outbound=True, outcome=Call.Outcome.HANDLED)  # not incoming
    response = viewer.get("/reports/")
    live = response.context["live"]
    assert live["incoming"] == 9
    assert {part: live[part] for part in PARTS} == {
        "answered": 1, "abandoned": 1, "voicemails": 2, "callbacks_requested": 2, "ivr_contained": 1,
        "other_calls": 2,
    }  # fmt: skip
    assert sum(live[part] for part in PARTS) == live["incoming"]
    html = response.content.decode()
    assert (
        '<dd data-figure="voicemails">2</dd>' in html
        and '<dd data-figure="callbacks_requested">2</dd>' in html
    )
    body = viewer.get("/reports/today/").json()
    assert (body["incoming"], body["voicemails"], body["ivr_contained"]) == (9, 2, 1)


def test_call_detail_names_the_script_version_it_ran(tenants, viewer):
    with tenant_context(tenants.alpha):
        script = Script.objects.create(name="Hotline")
        graph = {"format": 1, "start": "hi", "nodes": {"hi": {"kind": "say", "text": "Hello"}}}
        ScriptVersion.objects.create(script=script, number=1, graph=graph, state="retired")
        version = ScriptVersion.objects.create(script=script, number=2, graph=graph, state="active")
        call = CallFactory(
            answered=True, script_session=ScriptSession.objects.create(version=version, kind="call")
        )
        bare = CallFactory(answered=True)
    html = viewer.get(f"/reports/calls/{call.pk}/").content.decode()
    assert f'<a href="/scripts/versions/{version.pk}/">Hotline, version 2</a>' in html
    assert '<dd id="script-version">\u2013</dd>' in viewer.get(f"/reports/calls/{bare.pk}/").content.decode()
