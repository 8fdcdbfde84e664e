"""The console's outbound side: the preview card with Dial/Skip, opt-out, and hold for any call."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from outbound import dialer
from outbound.models import CampaignContact, DoNotCall
from telephony import routing
from telephony.calls.models import Call, CallEvent
from telephony.models import OperatorProfile
from tests.conftest import logged_in
from tests.console.kit import offer_call
from tests.outbound.dialer_kit import operators_on, running_campaign, spy_calls_create, twilio_post
from tests.telephony.helpers import make_operator


def post(client, path, body=None):
    return client.post(path, body or {}, content_type="application/json")


@pytest.fixture
def created(monkeypatch, twilio_mock):
    return spy_calls_create(monkeypatch)


@pytest.fixture
def preview(db, tenants, created):
    """A preview campaign's contact reserved for one operator (not dialed yet)."""
    campaign, queue, phones = running_campaign(tenants.alpha, contacts=1, mode="preview", kind="sales")
    (operator,) = operators_on(queue, 1)
    (reserved,) = dialer.unscoped_dial_pass()
    return campaign, operator, reserved, phones[0]


def _call(tenants, reserved) -> Call:
    with tenant_context(tenants.alpha):
        return Call.objects.get(pk=reserved.call_id)


def test_the_preview_card_shows_the_contact_campaign_and_first_script_step(preview, created):
    campaign, operator, reserved, phone = preview
    client = logged_in(None, operator.user)
    state = client.get("/console/state").json()
    assert state["phase"] == "call" and state["reservation"] == reserved.reservation_id

    view = client.get(f"/console/calls/{reserved.reservation_id}").json()

    assert view["outbound"]["phase"] == "preview"
    assert view["outbound"]["campaign"] == campaign.name and view["outbound"]["attempt_number"] == 1
    assert view["contact"]["phone"] == phone and view["direction"] == "outbound"
    assert view["step"]["node"] == "rating"  # the survey script's first step
    assert view["call"]["connected"] is False
    assert created == []


def test_a_progressive_call_reserved_but_not_placed_yet_is_dialing_not_a_preview(db, tenants, created):
    """The dialer places a progressive call right after the reservation commits; a card read in
    between must not offer Dial (it could only answer "already dialed") nor Skip."""
    campaign, queue, _ = running_campaign(tenants.alpha, contacts=1, mode="progressive")
    (operator,) = operators_on(queue, 1)
    with tenant_context(tenants.alpha):
        work = {campaign.queue_id}
    reserved = dialer.reserve(
        operator_id=operator.pk, tenant=tenants.alpha, queues=work, default_queue=None, now=timezone.now()
    )
    client = logged_in(None, operator.user)

    view = client.get(f"/console/calls/{reserved.reservation_id}").json()

    assert view["outbound"]["mode"] == "progressive" and view["outbound"]["phase"] == "dialing"
    assert post(client, f"/console/calls/{reserved.reservation_id}/dial").status_code == 409
    assert post(client, f"/console/calls/{reserved.reservation_id}/skip").status_code == 409
    assert created == []  # the console placed nothing; the dialer does


def test_dial_places_the_call_from_the_operators_reservation(preview, created):
    _, operator, reserved, phone = preview
    client = logged_in(None, operator.user)

    response = post(client, f"/console/calls/{reserved.reservation_id}/dial")

    assert response.status_code == 200 and response.json() == {"dialed": True}
    assert [c["to"] for c in created] == [phone]
    assert client.get(f"/console/calls/{reserved.reservation_id}").json()["outbound"]["phase"] == "dialing"
    again = post(client, f"/console/calls/{reserved.reservation_id}/dial")
    assert again.status_code == 409 and len(created) == 1


def test_dial_is_refused_with_a_reason_when_the_number_was_listed_meanwhile(preview, created, tenants):
    _, operator, reserved, phone = preview
    with tenant_context(tenants.alpha):
        DoNotCall.objects.create(phone=phone)
    response = post(logged_in(None, operator.user), f"/console/calls/{reserved.reservation_id}/dial")
    assert response.status_code == 409 and "do-not-call" in response.json()["error"]
    assert created == []
    operator.refresh_from_db()
    assert operator.state == "available"


def test_skip_gives_the_contact_back_for_later_and_frees_the_operator(preview, created, tenants):
    _, operator, reserved, phone = preview
    client = logged_in(None, operator.user)

    assert post(client, f"/console/calls/{reserved.reservation_id}/skip").json() == {"skipped": True}

    operator.refresh_from_db()
    assert operator.state == "available"
    assert client.get("/console/state").json()["reservation"] is None
    with tenant_context(tenants.alpha):
        entry = CampaignContact.objects.get(phone=phone)
        assert entry.state == "pending" and entry.attempts == 0
        assert entry.next_due_at > timezone.now() + dt.timedelta(minutes=20)
        assert not Call.objects.filter(pk=reserved.call_id).exists()
    assert created == []


def test_another_operator_cannot_dial_skip_opt_out_or_hold(preview):
    _, _, reserved, _ = preview
    other = logged_in(None, make_operator({}).user)
    for action in ("dial", "skip", "opt-out"):
        assert post(other, f"/console/calls/{reserved.reservation_id}/{action}").status_code == 404
    assert post(other, f"/console/calls/{reserved.reservation_id}/hold", {"on": True}).status_code == 404


def test_opt_out_during_the_call_puts_the_number_on_the_companys_list(preview, tenants):
    _, operator, reserved, phone = preview
    client = logged_in(None, operator.user)
    post(client, f"/console/calls/{reserved.reservation_id}/dial")
    call = _call(tenants, reserved)
    twilio_post("answer", tenants.alpha, call)
    assert client.get(f"/console/calls/{reserved.reservation_id}").json()["outbound"]["phase"] == "connected"

    assert post(client, f"/console/calls/{reserved.reservation_id}/opt-out").json() == {"opted_out": True}

    with tenant_context(tenants.alpha):
        assert DoNotCall.objects.filter(phone=phone, source="opt_out").exists()
        assert CampaignContact.objects.get(phone=phone).state == "opted_out"
    with tenant_context(tenants.beta):
        assert not DoNotCall.objects.filter(phone=phone).exists()


def test_opt_out_of_a_number_not_in_e164_is_refused_and_writes_nothing(preview, tenants):
    _, operator, reserved, _ = preview
    client = logged_in(None, operator.user)
    post(client, f"/console/calls/{reserved.reservation_id}/dial")
    call = _call(tenants, reserved)
    twilio_post("answer", tenants.alpha, call)
    with tenant_context(tenants.alpha):
        Call.objects.filter(pk=call.pk).update(to_number="0555 0100")

    response = post(client, f"/console/calls/{reserved.reservation_id}/opt-out")

    assert response.status_code == 409 and "E.164" in response.json()["error"]
    with tenant_context(tenants.alpha):
        assert not DoNotCall.objects.exists()
        assert not CallEvent.objects.filter(call=call, kind="opted_out").exists()


def test_hold_plays_music_and_records_the_time_on_hold(preview, tenants):
    _, operator, reserved, _ = preview
    client = logged_in(None, operator.user)
    path = f"/console/calls/{reserved.reservation_id}/hold"
    assert post(client, path, {"on": True}).status_code == 409  # nobody on the line yet
    post(client, f"/console/calls/{reserved.reservation_id}/dial")
    call = _call(tenants, reserved)
    twilio_post("answer", tenants.alpha, call)

    assert post(client, path, {"on": True}).json() == {"on_hold": True}
    assert client.get(f"/console/calls/{reserved.reservation_id}").json()["call"]["on_hold"] is True
    held_at = timezone.now() - dt.timedelta(seconds=30)
    with tenant_context(tenants.alpha):
        CallEvent.objects.filter(call=call, kind="hold").update(at=held_at)
    assert post(client, path, {"on": False}).json() == {"on_hold": False}

    with tenant_context(tenants.alpha):
        call.refresh_from_db()
        # From the hold to the unhold, however long the request took on a loaded machine.
        unhold = CallEvent.objects.get(call=call, kind="unhold")
        assert call.hold_seconds == unhold.data["seconds"] == int((unhold.at - held_at).total_seconds()) >= 30
    assert post(client, path, {"on": "yes"}).status_code == 409


def test_an_inbound_call_can_be_held_but_not_opted_out(
    db, tenants, twilio_mock, django_capture_on_commit_callbacks
):
    offered = offer_call(tenants.alpha, django_capture_on_commit_callbacks)
    routing.accept(reservation_id=offered.reservation.pk, operator=offered.operator.user)
    with tenant_context(tenants.alpha):
        Call.objects.filter(call_sid=offered.call_sid).update(answered_at=timezone.now())
    client = logged_in(None, offered.operator.user)
    base = f"/console/calls/{offered.reservation.pk}"

    assert post(client, base + "/opt-out").status_code == 409
    assert post(client, base + "/hold", {"on": True}).json() == {"on_hold": True}
    assert post(client, base + "/hold", {"on": False}).json() == {"on_hold": False}
    assert client.get(base).json()["outbound"] is None


def test_the_console_page_has_the_outbound_controls_and_keys(db, tenants):
    operator = OperatorProfile.objects.get(pk=make_operator({}).pk)
    page = logged_in(None, operator.user).get("/console/").content.decode()
    for control in ('id="dial"', 'id="skip"', 'id="opt-out"', 'id="hold"', "<kbd>C</kbd>", "<kbd>H</kbd>"):
        assert control in page


def test_ending_a_preview_that_was_never_dialed_skips_it(preview, created, tenants):
    _, operator, reserved, phone = preview
    client = logged_in(None, operator.user)
    assert post(client, f"/console/calls/{reserved.reservation_id}/hang-up").status_code == 200
    operator.refresh_from_db()
    assert operator.state == "available" and created == []
    with tenant_context(tenants.alpha):
        assert CampaignContact.objects.get(phone=phone).state == "pending"


def test_dial_is_refused_once_the_campaign_is_paused(preview, created, tenants):
    from outbound.control import campaign_control

    campaign, operator, reserved, _ = preview
    with tenant_context(tenants.alpha):
        campaign_control(campaign=campaign, action="pause", now=timezone.now())
    response = post(logged_in(None, operator.user), f"/console/calls/{reserved.reservation_id}/dial")
    assert response.status_code == 409 and "paused" in response.json()["error"]
    assert created == []


def test_only_operators_reach_the_outbound_endpoints(preview, tenants):
    from accounts.models import Role
    from tests.conftest import make_user

    _, _, reserved, _ = preview
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    assert post(supervisor, f"/console/calls/{reserved.reservation_id}/dial").status_code == 403
    client_admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    assert (
        post(
            logged_in(tenants.alpha, client_admin), f"/console/calls/{reserved.reservation_id}/dial"
        ).status_code
        == 404
    )
