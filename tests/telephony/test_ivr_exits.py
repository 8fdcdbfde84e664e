"""The ways out of the IVR as the caller hears them and as reports count them: hand-over to an
operator, transfer to a specialist, after hours."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from telephony.calls.models import Call
from telephony.models import Queue
from tests.scripts_engine.conftest import active_script
from tests.telephony.calls_kit import incoming
from tests.telephony.helpers import make_operator
from tests.twilio_kit import check_twiml, signed_post


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    make_operator({queue: 1}, state="wrap_up")
    return queue


def _post(path: str, sid: str, to: str, **fields: str):
    response = signed_post(path, {"CallSid": sid, "To": to, **fields})
    assert response.status_code == 200, response.content
    return response


def _said(root) -> str:
    return " ".join(el.text or "" for el in root.iter("Say"))


def test_the_ivr_hand_over_speaks_its_own_text_never_the_operators_script(db, tenants, queue, alpha_number):
    """Before: the caller heard the operator's next step ("Note their feedback")."""
    active_script(tenants.alpha, sample="survey", name="Survey IVR")
    response, params = incoming(alpha_number)
    action = check_twiml(response.content).find("Gather").get("action")
    root = check_twiml(_post(action, params["CallSid"], alpha_number, Digits="0").content)
    assert [el.tag for el in root] == ["Say", "Enqueue"]
    said = _said(root)
    assert "Please hold, an operator will be with you shortly." in said
    assert "Note their feedback" not in said and "operator during the survey" not in said
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.queued_at is not None and call.events.filter(kind="ivr_handover").count() == 1
