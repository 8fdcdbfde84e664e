"""A recorded simulated call ends with a recording the portal and quality pages can play (issue 21)."""

from __future__ import annotations

import io
import wave

import pytest
from django_tenants.utils import tenant_context

from telephony import recording_pauses, recordings
from telephony.calls.models import Call, TelephonySettings
from telephony.simulator.run import simulate
from telephony.simulator.setup import simulated_operators
from tests.conftest import run_async
from tests.e2e.test_simulated_calls import _fresh_company, _plan

pytestmark = pytest.mark.slow


def test_a_recorded_simulated_call_ends_with_a_stored_playable_wav(
    committed, tenants, asgi_server, celery_worker
):
    company, number = _fresh_company()
    with tenant_context(company):
        settings = TelephonySettings.current()
        settings.record_calls = True
        settings.save(update_fields=["record_calls"])
    operators = simulated_operators(count=2, slugs=[company.slug], prefix=f"{company.slug}-op")

    def stored() -> bool:
        with tenant_context(company):
            return Call.objects.filter(to_number=number).exclude(recording_key="").exists()

    result = run_async(simulate(_plan([number], operators, calls=1, rate=3.0, seed=5, settled=stored)))

    assert result["outcomes"] == {"handled": 1} and result["callback_errors"] == [], result["trace"]
    with tenant_context(company):
        call = Call.objects.get(to_number=number)
        assert call.recording_sid.startswith("RE") and call.recording_seconds
        assert call.recording_key.endswith(f"/{call.recording_sid}.wav"), call.recording_key
        response = recordings.recording_response(call)
        body = b"".join(response.streaming_content)
    assert response["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(body)) as audio:  # a valid header, seconds of audio behind it
        assert audio.getnchannels() == 1 and audio.getnframes() / audio.getframerate() >= 2


def test_a_simulated_voicemail_is_stored_as_a_playable_wav(committed, tenants, asgi_server, celery_worker):
    company, number = _fresh_company()  # nobody serves it: the caller is offered a callback or a message

    def stored() -> bool:
        with tenant_context(company):
            return Call.objects.filter(to_number=number).exclude(recording_key="").exists()

    plan = _plan([number], [], calls=1, rate=3.0, seed=3, settled=stored)
    plan.profile.want_callback = 0.0  # a message, please
    result = run_async(simulate(plan))

    assert result["outcomes"] == {"voicemail": 1} and result["callback_errors"] == [], result["trace"]
    with tenant_context(company):
        call = Call.objects.get(to_number=number)
        assert call.recording_key.endswith(".wav"), (call.recording_url, call.recording_key)
        response = recordings.recording_response(call)
        body = b"".join(response.streaming_content)
    assert response["Content-Type"] == "audio/wav" and body[:4] == b"RIFF"


def test_simulated_operators_pause_the_recording_for_card_data_and_resume_it(
    committed, tenants, asgi_server, celery_worker
):
    company, number = _fresh_company()
    with tenant_context(company):
        settings = TelephonySettings.current()
        settings.record_calls = True
        settings.save(update_fields=["record_calls"])
    operators = simulated_operators(count=2, slugs=[company.slug], prefix=f"{company.slug}-pci")

    def settled() -> bool:  # every call over, every handled one's recording stored
        with tenant_context(company):
            calls = Call.objects.filter(to_number=number)
            over = calls.count() == 3 and not calls.filter(outcome="").exists()
            return over and not calls.filter(outcome="handled", recording_key="").exists()

    plan = _plan([number], operators, calls=3, rate=1.0, seed=11, settled=settled)
    plan.profile.talk = (2.5, 3.0)  # long enough to pause and resume inside the call
    plan.behaviour.card_data = 1.0  # every caller pays by card
    plan.behaviour.card_seconds = (0.3, 0.5)
    result = run_async(simulate(plan))

    # A call placed before the consoles were available goes to voicemail; the others are handled.
    handled = result["outcomes"].get("handled", 0)
    assert handled >= 1 and result["callback_errors"] == [], result["trace"]
    assert sum(op["paused"] for op in result["operators"]) == handled, result["operators"]
    assert sum(op["resumed"] for op in result["operators"]) == handled, result["operators"]
    assert result["recording_updates"] == {"paused": handled, "in-progress": handled}
    windows = {sid: seconds for op in result["operators"] for sid, seconds in op["pause_windows"].items()}
    with tenant_context(company):
        for call in Call.objects.filter(to_number=number, outcome="handled"):
            kinds = list(call.events.filter(kind__startswith="recording_").values_list("kind", flat=True))
            assert kinds.count("recording_paused") == 1 and kinds.count("recording_resumed") == 1, kinds
            (interval,) = recording_pauses.pause_intervals(call)
            # At least the card's time (0.3 s or more), at most the time from the operator's pause
            # to the resume's answer: the pause as the operator made it, however loaded the machine.
            assert interval.seconds and 0.2 < interval.seconds <= windows[call.call_sid], windows
            assert call.recording_key  # stored, the paused part left out (skip)
