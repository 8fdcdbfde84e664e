"""The client announced to the operator before the caller is put through (R19): the caller joins
muted, the operator's participant is created muted, the operator alone hears the announcement
(participant ``AnnounceUrl``, signed, in the company's schema), and both are unmuted when Twilio
says it ended, once, or at the latest after a delay; Twilio's failures never leave them muted."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony import announcements, tasks
from telephony.calls.models import TelephonySettings
from telephony.models import Queue
from tests.conftest import logged_in
from tests.factories import CallFactory
from tests.telephony.conference_kit import conference_event, path_of, query, signed_post, twilio_with_faults
from tests.telephony.supervision_kit import connect_call
from tests.twilio_kit import check_twiml


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    queue.name = "Support"
    queue.save(update_fields=["name"])
    return queue


@pytest.fixture
def sent_tasks(monkeypatch) -> list[tuple]:
    sent: list[tuple] = []
    for name in ("bridge_call", "announce_to_operator", "release_caller"):
        monkeypatch.setattr(f"telephony.tasks.{name}.delay", lambda *args, _n=name: sent.append((_n, *args)))
    monkeypatch.setattr(
        "telephony.tasks.release_caller.apply_async",
        lambda args, countdown: sent.append(("release_later", *args, countdown)),
    )
    return sent


def _run(tenant, task, *args) -> object:
    with tenant_context(tenant):
        return task.apply(args=list(args)).get()


def _updates(http) -> list:
    return [s for s in http.sent if "/Participants/" in s.url and not s.fault]


def test_the_operator_alone_hears_the_client_then_the_caller_is_put_through_once(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    conference = check_twiml(connected.twiml).find("Dial/Conference")
    assert conference.get("muted") == "true"  # the caller is not heard until put through
    assert "announcement" in conference.get("statusCallbackEvent").split()
    operator = next(s for s in http.sent if s.url.endswith("/Participants.json"))
    assert operator.data["Muted"] == "true"  # Prism validated it against Twilio's spec
    call = connected.call(tenants.alpha)
    assert ("announce_to_operator", call.pk, connected.offer.pk) in sent_tasks

    assert _run(tenants.alpha, tasks.announce_to_operator, call.pk, connected.offer.pk) is True
    (announce,) = _updates(http)
    assert announce.url.endswith(f"/Participants/operator-{connected.offer.pk}.json")  # the operator only
    assert announce.data["AnnounceMethod"] == "POST" and "Muted" not in announce.data
    url = announce.data["AnnounceUrl"]
    assert query(url) == {"t": tenants.alpha.schema_name, "c": str(call.pk)}
    assert ("release_later", call.pk, connected.offer.pk, "announcement timed out", 15) in sent_tasks
    said = check_twiml(signed_post(path_of(url), {"CallSid": "CA" + "7" * 32}).content.decode())
    assert [e.text for e in said.iter("Say")] == ["Alpha Ltd, Support"]
    assert _updates(http) == [announce]  # the caller heard nothing and is still muted

    for _ in range(2):  # Twilio may post it twice
        with commit():
            conference_event(connected.callback, "announcement-end", CallSid="CA" + "7" * 32)
    releases = [t for t in sent_tasks if t[0] == "release_caller"]
    assert releases == [("release_caller", call.pk, connected.offer.pk, "announcement-end")] * 2
    for release in releases:
        _run(tenants.alpha, tasks.release_caller, *release[1:])
    _run(tenants.alpha, tasks.release_caller, call.pk, connected.offer.pk, "announcement timed out")
    unmuted = _updates(http)[1:]
    assert [u.url.rsplit("/", 1)[-1] for u in unmuted] == [
        f"{connected.sid}.json",
        f"operator-{connected.offer.pk}.json",
    ]
    assert all(u.data["Muted"] == "false" for u in unmuted)
    with tenant_context(tenants.alpha):
        assert list(call.events.filter(kind="released").values_list("data__reason", flat=True)) == [
            "announcement-end"
        ]


def test_the_companys_own_text_is_announced_and_the_console_shows_it_with_the_script(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    with tenant_context(tenants.alpha):
        TelephonySettings.objects.update_or_create(pk=1, defaults={"operator_announcement": "Alpha parcels"})
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    call = connected.call(tenants.alpha)
    with tenant_context(tenants.alpha):
        said = check_twiml(str(announcements.announcement_twiml(call)))
    assert [e.text for e in said.iter("Say")] == ["Alpha parcels"]
    console = logged_in(None, connected.offer.operator.user)
    pop = console.get(f"/console/offers/{connected.offer.pk}").json()
    assert (pop["tenant"]["name"], pop["queue"], pop["announcement"]) == (
        "Alpha Ltd",
        "Support",
        "Alpha parcels",
    )
    assert "script" in pop


@pytest.mark.parametrize("fault", ["refused", "404"])
def test_an_announcement_twilio_refuses_puts_the_caller_through_at_once(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch, fault
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    call = connected.call(tenants.alpha)
    http.plan.script = [fault]
    assert _run(tenants.alpha, tasks.announce_to_operator, call.pk, connected.offer.pk) is False
    assert [u.data["Muted"] for u in _updates(http)] == ["false", "false"]
    with tenant_context(tenants.alpha):
        assert call.events.get(kind="released").data["reason"].startswith("announcement")


def test_twilio_unavailable_for_the_announcement_still_puts_the_caller_through(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    call = connected.call(tenants.alpha)
    http.plan.script = ["503", "429", "timeout", "500"]
    assert _run(tenants.alpha, tasks.announce_to_operator, call.pk, connected.offer.pk) is False
    assert ("release_caller", call.pk, connected.offer.pk, "announcement unavailable") in sent_tasks
    http.plan.script = ["503"]  # the release is retried too
    _run(tenants.alpha, tasks.release_caller, call.pk, connected.offer.pk, "announcement unavailable")
    assert [u.data["Muted"] for u in _updates(http)] == ["false", "false"]


def test_the_announcement_url_is_signed_and_stays_in_its_company(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    call = connected.call(tenants.alpha)
    path = f"/twilio/voice/operator-announcement?t={tenants.alpha.schema_name}&c={call.pk}"
    assert signed_post(path, {"CallSid": "x"}, signature="forged").status_code == 403
    other = f"/twilio/voice/operator-announcement?t={tenants.beta.schema_name}&c={call.pk}"
    assert b"Alpha" not in signed_post(other, {"CallSid": "x"}).content


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
        said = check_twiml(str(announcements.announcement_twiml(call)))
        assert [e.text for e in said.iter("Say")] == ["New text"]
        assert announcements.announcement_text(call) == "New text"
