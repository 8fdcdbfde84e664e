"""Issue 22: the fallback outside the platform, one static TwiML file per number."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from telephony.calls.models import TelephonySettings
from telephony.models import PhoneNumber
from tests.twilio_kit import check_twiml

BASE = "https://fallback.example.net/cc"


@pytest.fixture
def numbers(db, tenants) -> tuple[str, str]:
    alpha, _ = PhoneNumber.objects.get_or_create(
        number="+15550199001", defaults={"tenant": tenants.alpha, "state": PhoneNumber.State.ASSIGNED}
    )
    beta, _ = PhoneNumber.objects.get_or_create(
        number="+15550199002", defaults={"tenant": tenants.beta, "state": PhoneNumber.State.ASSIGNED}
    )
    with tenant_context(tenants.beta):
        TelephonySettings.objects.update_or_create(
            pk=1, defaults={"language": "de-DE", "voice": "Polly.Vicki"}
        )
    return alpha.number, beta.number


def test_each_number_gets_a_static_file_that_takes_a_message_without_the_platform(numbers, tmp_path):
    call_command("build_fallback_twiml", "--out", str(tmp_path), "--static-base", BASE)
    root = check_twiml((tmp_path / "15550199001.xml").read_bytes())
    record = root.find("Record")
    assert record.get("action") == f"{BASE}/goodbye.xml" and record.get("method") == "GET"
    # The message is stored by the platform when it is up, imported by the reconciliation when not.
    assert record.get("recordingStatusCallback").startswith("https://")
    assert "/twilio/voice/recording?t=t_alpha" in record.get("recordingStatusCallback")
    assert [el.tag for el in check_twiml((tmp_path / "goodbye.xml").read_bytes())] == ["Say", "Hangup"]


def test_each_file_speaks_for_its_own_company_only(numbers, tmp_path):
    call_command("build_fallback_twiml", "--out", str(tmp_path), "--static-base", BASE)
    beta = check_twiml((tmp_path / "15550199002.xml").read_bytes())
    assert beta.find("Say").get("language") == "de-DE" and beta.find("Say").get("voice") == "Polly.Vicki"
    assert "t=t_beta" in beta.find("Record").get("recordingStatusCallback")
    assert "t_alpha" not in (tmp_path / "15550199002.xml").read_text()


def test_the_static_base_must_be_https(numbers, tmp_path):
    with pytest.raises(CommandError, match="https"):
        call_command("build_fallback_twiml", "--out", str(tmp_path), "--static-base", "http://x.example")
