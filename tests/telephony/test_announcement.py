"""The client announced to the operator before the caller is put through (R19): the operator's leg
is a call to their browser phone whose TwiML says whose call it is, then joins the conference
(``twiml.operator_leg``, sent with ``calls.create``: Prism validates it). The operator alone hears
it, before joining; the caller waits in the conference's music, never muted; they talk as soon as
the operator joins: no announcement URL, no muting, no release, whatever Twilio posts."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony import announcements
from telephony.calls.models import TelephonySettings
from telephony.models import Queue
from telephony.simulator.rest_faults import Sent
from tests.conftest import logged_in
from tests.factories import CallFactory
from tests.telephony.conference_kit import conference_event, operator_legs, twilio_with_faults
from tests.telephony.supervision_kit import OPERATOR_LEG, connect_call
from tests.twilio_kit import check_twiml

# The caller moved from Twilio's queue into the conference on accept (``conftest``).
pytestmark = pytest.mark.usefixtures("caller_moved_on_accept")


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    queue.name = "Support"
    queue.save(update_fields=["name"])
    return queue


def _operator_leg(http, operator_user_id: int) -> Sent:
    """The ``calls.create`` of the operator's leg (Prism validated it against Twilio's spec)."""
    (create,) = operator_legs(http)
    assert create.data["To"] == create.data["From"] == f"client:operator-{operator_user_id}"
    return create


def test_the_operator_alone_hears_the_client_before_joining_and_the_caller_is_never_muted(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http, join=False)
    caller = check_twiml(connected.twiml).find("Dial/Conference")
    assert caller.get("muted") is None  # heard as soon as the operator joins
    assert set(caller.get("statusCallbackEvent").split()) == {"end", "join"}
    leg = check_twiml(_operator_leg(http, connected.offer.operator.user_id).data["Twiml"])
    assert [(e.tag, e.text) for e in leg] == [("Say", "Alpha Ltd, Support"), ("Dial", None)]
    joins = leg.find("Dial/Conference")
    label = f"operator-{connected.offer.pk}"
    assert (joins.text, joins.get("participantLabel")) == (f"call-{connected.sid}", label)
    assert joins.get("muted") is None and joins.get("startConferenceOnEnter") == "true"
    assert joins.get("statusCallback") == connected.callback  # whoever comes first creates it with them
    call = connected.call(tenants.alpha)
    with tenant_context(tenants.alpha):
        assert call.events.get(kind="leg").data["announcement"] == "Alpha Ltd, Support"
    requests_before_join = len(http.sent)

    for _ in range(2):  # Twilio may post the join twice: one answer
        with commit():
            conference_event(
                connected.callback, "participant-join", CallSid=OPERATOR_LEG, ParticipantLabel=label
            )
    assert connected.call(tenants.alpha).answered_at is not None  # they talk at once
    assert len(http.sent) == requests_before_join  # nothing to unmute, nothing to announce
    assert bridges == [connected.waiting.pk]  # the bridge is the call's only task


def test_the_companys_own_text_is_announced_and_the_console_shows_it_with_the_script(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    with tenant_context(tenants.alpha):
        TelephonySettings.objects.update_or_create(
            pk=1,
            defaults={"operator_announcement": "Alpha parcels", "voice": "Polly.Amy", "language": "en-GB"},
        )
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    said = check_twiml(_operator_leg(http, connected.offer.operator.user_id).data["Twiml"]).find("Say")
    assert (said.text, said.get("voice"), said.get("language")) == ("Alpha parcels", "Polly.Amy", "en-GB")
    console = logged_in(None, connected.offer.operator.user)
    pop = console.get(f"/console/offers/{connected.offer.pk}").json()
    assert (pop["tenant"]["name"], pop["queue"], pop["announcement"]) == (
        "Alpha Ltd",
        "Support",
        "Alpha parcels",
    )
    assert "script" in pop


def test_an_announcement_scheduled_from_a_day_is_heard_from_that_day(db, tenants):
    """Service settings changed "from a date" apply to the announcement too (before: only the
    saved text was read, a scheduled one never took effect)."""
    today = timezone.now().date().isoformat()
    with tenant_context(tenants.alpha):
        TelephonySettings.objects.update_or_create(
            pk=1, defaults={"operator_announcement": "Old text", "timezone": "UTC",
                            "scheduled": [{"from": today, "changes": {"operator_announcement": "New text"}}]},
        )  # fmt: skip
        call = CallFactory(queue_name="Support")
        response, text = announcements.operator_leg(call, label="operator-1")
        assert [e.text for e in check_twiml(str(response)).iter("Say")] == [text] == ["New text"]
