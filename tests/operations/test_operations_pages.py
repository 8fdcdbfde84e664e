"""Operations pages on the platform host: skills, languages, shifts and who serves whom, edited by
supervisors and account managers without the Django admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Role
from operations.certification import certification_grant
from operations.models import Shift
from telephony import routing
from telephony.models import Reservation, Skill
from tenants.models import AuditEvent
from tests.conftest import http, logged_in, make_user
from tests.factories import QueueFactory
from tests.telephony.helpers import at, make_operator, make_queue, sid


def certified(operator, client) -> None:
    """The operator holds a valid certificate for the company (R14): skills assigned unlock."""
    now = timezone.now()
    certification_grant(
        operator=operator, client=client, valid_until=now + dt.timedelta(days=30), now=now, reason="t"
    )


@pytest.fixture
def supervisor(db, tenants):
    return make_user(None, role=Role.SUPERVISOR, first_name="Sue", last_name="Pervisor")


def test_granting_a_skill_offers_the_call_already_waiting(
    db, tenants, supervisor, eager_celery, django_capture_on_commit_callbacks
):
    queue = make_queue(tenants.alpha)
    operator = make_operator()
    certified(operator, tenants.alpha)
    with django_capture_on_commit_callbacks(execute=True):
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    assert not Reservation.objects.filter(call=call).exists()  # nobody may take it yet
    client = logged_in(None, supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/staff/operations/operators/{operator.pk}/skills/",
            {"queue": queue.pk, "tier": 2, "languages": "en, de"},
        )
    assert response.status_code == 302
    skill = Skill.objects.get(operator=operator, queue=queue)
    assert (skill.tier, skill.languages) == (2, ["en", "de"])
    assert Reservation.objects.get(call=call, state="offered").operator == operator
    event = AuditEvent.objects.get(action="skill.set", object_id=operator.pk, object_type="operatorprofile")
    assert event.client == tenants.alpha and event.after["tier"] == 2 and event.actor_name == "Sue Pervisor"


def test_the_operator_page_shows_skills_per_company_and_queue(db, tenants, supervisor):
    alpha_q, beta_q = (
        QueueFactory(tenant=tenants.alpha, name="Sales-A"),
        QueueFactory(tenant=tenants.beta, name="Help-B"),
    )
    operator = make_operator({alpha_q: 1, beta_q: 3}, languages=["fr"])
    page = logged_in(None, supervisor).get(f"/staff/operations/operators/{operator.pk}/").content.decode()
    assert "Alpha Ltd · Sales-A" in page and "Beta GmbH · Help-B" in page and 'value="fr"' in page
    listing = logged_in(None, supervisor).get("/staff/operations/").content.decode()
    assert "Sales-A" in listing and "Help-B" in listing


def test_bad_skill_input_is_refused_with_a_message_and_writes_nothing(db, tenants, supervisor):
    queue = make_queue(tenants.alpha)
    operator = make_operator()
    client = logged_in(None, supervisor)
    bad_tier = client.post(
        f"/staff/operations/operators/{operator.pk}/skills/", {"queue": queue.pk, "tier": 12}
    )
    bad_lang = client.post(
        f"/staff/operations/operators/{operator.pk}/skills/",
        {"queue": queue.pk, "tier": 1, "languages": "English!"},
    )
    no_queue = client.post(f"/staff/operations/operators/{operator.pk}/skills/", {"queue": 999999, "tier": 1})
    assert [r.status_code for r in (bad_tier, bad_lang, no_queue)] == [400, 400, 400]
    assert "not a language code" in bad_lang.content.decode()
    assert not Skill.objects.filter(operator=operator).exists()


def test_removing_a_skill_and_setting_languages_are_audited(
    db, tenants, supervisor, django_capture_on_commit_callbacks
):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    client = logged_in(None, supervisor)
    client.post(f"/staff/operations/operators/{operator.pk}/languages/", {"languages": "en de"})
    client.post(f"/staff/operations/operators/{operator.pk}/skills/{queue.pk}/remove/")
    operator.refresh_from_db()
    assert operator.languages == ["en", "de"] and not Skill.objects.filter(operator=operator).exists()
    actions = set(
        AuditEvent.objects.filter(object_id=operator.pk, object_type="operatorprofile").values_list(
            "action", flat=True
        )
    )
    assert actions == {"operator.languages", "skill.removed"}


def test_a_team_is_granted_a_new_companys_queue_at_provisioning(
    db, tenants, supervisor, eager_celery, django_capture_on_commit_callbacks
):
    queue = QueueFactory(tenant=tenants.beta, name="Bookings")
    first, second, other = make_operator(), make_operator(), make_operator()
    keeps_tier = make_operator({queue: 3}, state="offline")
    for operator in (first, second):
        certified(operator, tenants.beta)
    with django_capture_on_commit_callbacks(execute=True):
        call = routing.enqueue(tenant=tenants.beta, queue=queue, call_sid=sid(), now=at(0))
    client = logged_in(None, supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/staff/operations/companies/{tenants.beta.pk}/",
            {"queue": queue.pk, "tier": 1, "operators": [first.pk, second.pk, keeps_tier.pk]},
        )
    assert response.status_code == 302
    assert dict(Skill.objects.filter(queue=queue).values_list("operator_id", "tier")) == {
        first.pk: 1, second.pk: 1, keeps_tier.pk: 3,
    }  # fmt: skip
    assert not Skill.objects.filter(operator=other).exists()
    assert Reservation.objects.filter(call=call, state="offered", operator__in=[first, second]).exists()
    page = client.get(f"/staff/operations/companies/{tenants.beta.pk}/").content.decode()
    assert "Who serves Beta GmbH" in page and "Bookings" in page


def test_a_grant_from_another_companys_queue_is_refused(db, tenants, supervisor):
    alpha_queue = make_queue(tenants.alpha)
    operator = make_operator()
    response = logged_in(None, supervisor).post(
        f"/staff/operations/companies/{tenants.beta.pk}/",
        {"queue": alpha_queue.pk, "tier": 1, "operators": [operator.pk]},
    )
    assert response.status_code == 400
    assert not Skill.objects.filter(operator=operator).exists()


def test_shifts_are_planned_validated_and_listed(db, tenants, supervisor):
    operator = make_operator()
    client = logged_in(None, supervisor)
    url = f"/staff/operations/operators/{operator.pk}/shifts/"
    ok = client.post(
        url,
        {
            "starts_at": "2030-01-07T08:00",
            "ends_at": "2030-01-07T16:30",
            "break_minutes": 45,
            "note": "early",
        },
    )
    overlap = client.post(
        url, {"starts_at": "2030-01-07T16:00", "ends_at": "2030-01-07T20:00", "break_minutes": 0}
    )
    backwards = client.post(
        url, {"starts_at": "2030-01-08T16:00", "ends_at": "2030-01-08T08:00", "break_minutes": 0}
    )
    assert [ok.status_code, overlap.status_code, backwards.status_code] == [302, 400, 400]
    assert "overlaps" in overlap.content.decode() and "end after it starts" in backwards.content.decode()
    shift = Shift.objects.get(operator=operator)
    assert (shift.ends_at - shift.starts_at).total_seconds() == 8.5 * 3600 and shift.break_minutes == 45
    assert (
        "Mon 07 Jan 2030 08:00\u201316:30"
        in client.get(f"/staff/operations/operators/{operator.pk}/").content.decode()
    )


@pytest.mark.parametrize("role", [Role.OPERATOR])
def test_operators_may_not_use_the_operations_pages(db, tenants, role):
    operator = make_operator()
    user = make_user(None, role=role)
    client = logged_in(None, user)
    assert client.get("/staff/operations/").status_code == 403
    assert client.post(f"/staff/operations/companies/{tenants.alpha.pk}/", {}).status_code == 403
    assert client.get(f"/staff/operations/operators/{operator.pk}/").status_code == 403


def test_a_client_companys_host_has_no_operations_pages(db, tenants):
    """Tenant isolation: the pages live on the platform host only; a client admin reaches nothing."""
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    client = logged_in(tenants.alpha, admin)
    assert client.get("/staff/operations/").status_code == 404
    assert client.get(f"/staff/operations/companies/{tenants.beta.pk}/").status_code == 404
    assert http(None).get("/staff/operations/").status_code == 302  # the platform host asks to log in


def test_the_platform_itself_is_not_a_company_to_grant_queues_of(db, tenants):
    """Only client companies have a "who serves this client" page (before: the platform's own
    tenant was accepted by its id)."""
    from tenants.models import Client

    platform = Client.objects.get(schema_name="public")
    client = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    assert client.get(f"/staff/operations/companies/{platform.pk}/").status_code == 404
