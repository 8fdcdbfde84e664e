"""Quality scoring on the platform host: scorecards with weights and versions, scores, per-operator trends."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from accounts.models import Role
from quality.models import Criterion, Mark, Score, ScorecardVersion
from quality.scoring import (
    CriterionSpec,
    MarkInput,
    check_score_call,
    operator_weekly_scores,
    weighted_percent,
)
from telephony.calls.models import Call, TelephonySettings
from tests.conftest import http, logged_in, make_user
from tests.quality.kit import make_call

CARD = [
    {
        "name": "Greeting",
        "help": "Said the company's greeting",
        "kind": "points",
        "max_points": 5,
        "weight": 3,
    },
    {"name": "Verified identity", "help": "", "kind": "yes_no", "max_points": 1, "weight": 1},
    {"name": "Solved the problem", "help": "", "kind": "points", "max_points": 4, "weight": 2},
]


def _formset(rows: list[dict], extra_blank: int = 1) -> dict[str, str]:
    data = {"c-TOTAL_FORMS": str(len(rows) + extra_blank), "c-INITIAL_FORMS": "0"}
    for i, row in enumerate(
        rows + [{"name": "", "kind": "points", "max_points": 5, "weight": 1}] * extra_blank
    ):
        data |= {f"c-{i}-{k}": str(v) for k, v in row.items()}
    return data


def _criteria(tenant) -> list[Criterion]:
    with tenant_context(tenant):
        version = ScorecardVersion.objects.order_by("-number").first()
        return list(version.criteria.order_by("position")) if version else []


def _score_post(call, criteria, points: list, comment: str = "") -> dict[str, str]:
    with tenant_context(call._tenant):
        version = ScorecardVersion.objects.order_by("-number").first()
    data = {"version": str(version.pk), "comment": comment}
    for criterion, value in zip(criteria, points, strict=True):
        data[f"points-{criterion.pk}"] = str(value)
        data[f"comment-{criterion.pk}"] = f"on {criterion.name}"
    return data


def _call(tenant, **fields):
    call = make_call(tenant, **fields)
    call._tenant = tenant
    return call


def test_the_weighted_total_is_the_weighted_mean_of_each_criterions_share():
    # 3 x 4/5 + 1 x 1/1 + 2 x 2/4 = 2.4 + 1 + 1 = 4.4 of 6 weight → 73.33 %
    assert weighted_percent([(3, 4, 5), (1, 1, 1), (2, 2, 4)]) == Decimal("73.33")
    assert weighted_percent([(1, 0, 5), (1, 5, 5)]) == Decimal("50.00")
    assert weighted_percent([(2, 1, 3)]) == Decimal("33.33")
    assert weighted_percent([(1, 2, 3)]) == Decimal("66.67")  # rounded half up


def test_a_supervisor_builds_the_scorecard_and_scores_a_call(supervisor, tenants):
    response = supervisor.post(f"/quality/{tenants.alpha.slug}/scorecard/", _formset(CARD))
    assert response.status_code == 302
    criteria = _criteria(tenants.alpha)
    assert [(c.name, c.kind, c.max_points, c.weight) for c in criteria] == [
        ("Greeting", "points", 5, 3),
        ("Verified identity", "yes_no", 1, 1),
        ("Solved the problem", "points", 4, 2),
    ]
    call = _call(tenants.alpha)
    page = supervisor.get(f"/quality/{tenants.alpha.slug}/calls/{call.pk}/")
    assert page.status_code == 200 and b"Greeting" in page.content and b"(weight 3)" in page.content

    response = supervisor.post(
        f"/quality/{tenants.alpha.slug}/calls/{call.pk}/", _score_post(call, criteria, [4, 1, 2], "Well done")
    )
    assert response.status_code == 302
    with tenant_context(tenants.alpha):
        score = Score.objects.get(call_id=call.pk)
        assert score.percent == Decimal("73.33") and score.comment == "Well done"
        assert (score.scorer_name, score.operator_id, score.operator_name) == (
            "Sue Visor",
            7,
            "Olga Operator",
        )
        assert [(m.criterion.name, m.points, m.comment) for m in score.marks.all()] == [
            ("Greeting", 4, "on Greeting"),
            ("Verified identity", 1, "on Verified identity"),
            ("Solved the problem", 2, "on Solved the problem"),
        ]
    listing = supervisor.get(f"/quality/{tenants.alpha.slug}/?scored=yes")
    assert b"73.33%" in listing.content


def test_rescoring_a_call_updates_its_one_score(supervisor, tenants):
    supervisor.post(f"/quality/{tenants.alpha.slug}/scorecard/", _formset(CARD))
    criteria = _criteria(tenants.alpha)
    call = _call(tenants.alpha)
    url = f"/quality/{tenants.alpha.slug}/calls/{call.pk}/"
    supervisor.post(url, _score_post(call, criteria, [4, 1, 2]))
    supervisor.post(url, _score_post(call, criteria, [5, 0, 4]))  # 3 + 0 + 2 = 5 of 6
    with tenant_context(tenants.alpha):
        score = Score.objects.get(call_id=call.pk)
        assert score.percent == Decimal("83.33") and score.marks.count() == 3


def test_editing_a_used_scorecard_makes_a_new_version_and_old_scores_keep_theirs(supervisor, tenants):
    url = f"/quality/{tenants.alpha.slug}/scorecard/"
    supervisor.post(url, _formset(CARD))
    supervisor.post(url, _formset([{**CARD[0], "weight": 4}, *CARD[1:]]))  # unused: edited in place
    with tenant_context(tenants.alpha):
        assert list(ScorecardVersion.objects.values_list("number", flat=True)) == [1]
    v1 = _criteria(tenants.alpha)
    assert v1[0].weight == 4
    call = _call(tenants.alpha)
    supervisor.post(f"/quality/{tenants.alpha.slug}/calls/{call.pk}/", _score_post(call, v1, [5, 0, 0]))

    response = supervisor.post(url, _formset([{**CARD[0], "weight": 1}, CARD[2]]))
    assert response.status_code == 302
    v2 = _criteria(tenants.alpha)
    assert [(c.name, c.weight) for c in v2] == [("Greeting", 1), ("Solved the problem", 2)]
    with tenant_context(tenants.alpha):
        assert list(ScorecardVersion.objects.values_list("number", flat=True)) == [2, 1]
        old = Score.objects.get(call_id=call.pk)
        # v1: 4 x 5/5 + 1 x 0 + 2 x 0 = 4 of 7 → 57.14 %, still read with v1's criteria
        assert old.version.number == 1 and old.percent == Decimal("57.14")
        assert [m.criterion.weight for m in old.marks.all()] == [4, 1, 2]
    supervisor.post(f"/quality/{tenants.alpha.slug}/calls/{call.pk}/", _score_post(call, v2, [5, 2]))
    with tenant_context(tenants.alpha):
        scores = {s.version.number: s.percent for s in Score.objects.filter(call_id=call.pk)}
    assert scores == {1: Decimal("57.14"), 2: Decimal("66.67")}  # v2: 1 x 1 + 2 x 1/2 = 2 of 3


def test_a_score_given_with_a_scorecard_replaced_meanwhile_is_refused(supervisor, tenants):
    url = f"/quality/{tenants.alpha.slug}/scorecard/"
    supervisor.post(url, _formset(CARD))
    v1 = _criteria(tenants.alpha)
    first, second = _call(tenants.alpha), _call(tenants.alpha)
    stale = _score_post(second, v1, [1, 1, 1])  # the form of v1, still open in another tab
    supervisor.post(f"/quality/{tenants.alpha.slug}/calls/{first.pk}/", _score_post(first, v1, [1, 1, 1]))
    supervisor.post(url, _formset(CARD[:2]))  # v1 in use: this is v2
    response = supervisor.post(f"/quality/{tenants.alpha.slug}/calls/{second.pk}/", stale)
    assert response.status_code == 400 and "The scorecard changed" in response.content.decode()
    with tenant_context(tenants.alpha):
        assert not Score.objects.filter(call_id=second.pk).exists()


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([6, 1, 2], "“Greeting”: between 0 and 5 points."),
        ([4, 2, 2], "“Verified identity”: between 0 and 1 points."),
        ([4, 1, -1], "“Solved the problem”: between 0 and 4 points."),
        ([4, 1, "lots"], "“Solved the problem”: the mark must be a whole number."),
        ([4, "", 2], "“Verified identity”: give a mark."),
    ],
)
def test_bad_marks_are_refused_with_a_message_and_nothing_is_written(supervisor, tenants, points, message):
    supervisor.post(f"/quality/{tenants.alpha.slug}/scorecard/", _formset(CARD))
    criteria = _criteria(tenants.alpha)
    call = _call(tenants.alpha)
    url = f"/quality/{tenants.alpha.slug}/calls/{call.pk}/"
    supervisor.post(url, _score_post(call, criteria, [1, 1, 1], "first"))
    response = supervisor.post(url, _score_post(call, criteria, points, "second"))
    assert response.status_code == 400 and message in response.content.decode()
    with tenant_context(tenants.alpha):
        score = Score.objects.get(call_id=call.pk)  # the earlier score, untouched
        assert score.comment == "first" and [m.points for m in score.marks.all()] == [1, 1, 1]
        assert Mark.objects.filter(score=score).count() == 3


def test_a_score_with_a_criterion_missing_writes_nothing(db, tenants):
    call = make_call(tenants.alpha)
    with tenant_context(tenants.alpha):
        from quality.scoring import scorecard_save

        version = scorecard_save(criteria=[CriterionSpec("A"), CriterionSpec("B", weight=2)], by="t")
        first = version.criteria.order_by("position").first()
        with pytest.raises(Exception, match=r"“B”: give a mark\."):
            check_score_call(
                call=call,
                version_id=version.pk,
                marks={first.pk: MarkInput(3)},
                comment="",
                scorer_id=1,
                scorer_name="t",
            )
        assert not Score.objects.exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "A scorecard needs at least one criterion."),
        ([CARD[0], {**CARD[1], "name": "greeting"}], "Two criteria are called “greeting”"),
        ([{**CARD[0], "weight": 0}], "Ensure this value is greater than or equal to 1."),
        ([{**CARD[0], "max_points": 500}], "Ensure this value is less than or equal to 100."),
        ([{**CARD[0], "kind": "stars"}], "Select a valid choice."),
    ],
)
def test_a_bad_scorecard_is_refused_with_a_message_and_the_old_one_stays(supervisor, tenants, rows, message):
    url = f"/quality/{tenants.alpha.slug}/scorecard/"
    supervisor.post(url, _formset(CARD))
    response = supervisor.post(url, _formset(rows))
    assert response.status_code == 400 and message in response.content.decode()
    assert [c.name for c in _criteria(tenants.alpha)] == [row["name"] for row in CARD]


def test_only_supervisors_and_platform_admins_reach_quality(db, tenants, platform_admin):
    connection.set_schema_to_public()
    operator = make_user(None, role=Role.OPERATOR)
    manager = make_user(None, role=Role.ACCOUNT_MANAGER)
    supervisor = make_user(None, role=Role.SUPERVISOR)
    client_admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    call = make_call(tenants.alpha)
    urls = [
        "/quality/",
        f"/quality/{tenants.alpha.slug}/",
        f"/quality/{tenants.alpha.slug}/scorecard/",
        f"/quality/{tenants.alpha.slug}/operators/",
        f"/quality/{tenants.alpha.slug}/calls/{call.pk}/",
    ]
    for url in urls:
        assert http(None).get(url).status_code == 302, url
        assert logged_in(None, operator).get(url).status_code == 403, url
        assert logged_in(None, manager).get(url).status_code == 403, url
        assert logged_in(None, supervisor).get(url).status_code == 200, url
        assert logged_in(None, platform_admin).get(url).status_code == 200, url
        assert logged_in(tenants.alpha, client_admin).get(url).status_code == 404, (
            url
        )  # not on a company host
        connection.set_schema_to_public()
    response = logged_in(None, operator).post(f"/quality/{tenants.alpha.slug}/scorecard/", _formset(CARD))
    assert response.status_code == 403 and _criteria(tenants.alpha) == []
    assert logged_in(None, supervisor).get("/quality/nobody/").status_code == 404


def test_one_companys_scorecard_scores_and_calls_never_show_under_another(supervisor, tenants):
    supervisor.post(f"/quality/{tenants.alpha.slug}/scorecard/", _formset(CARD))
    criteria = _criteria(tenants.alpha)
    call = _call(tenants.alpha, operator_name="Alpha Only Operator", from_number="+14155550199")
    supervisor.post(f"/quality/{tenants.alpha.slug}/calls/{call.pk}/", _score_post(call, criteria, [4, 1, 2]))

    beta = tenants.beta.slug
    assert b"Greeting" not in supervisor.get(f"/quality/{beta}/scorecard/").content
    listing = supervisor.get(f"/quality/{beta}/").content
    assert b"+14155550199" not in listing and b"Alpha Only Operator" not in listing
    assert b"Alpha Only Operator" not in supervisor.get(f"/quality/{beta}/operators/").content
    assert b"Alpha Only Operator" in supervisor.get(f"/quality/{tenants.alpha.slug}/operators/").content
    with tenant_context(tenants.beta):
        assert not Score.objects.exists() and not ScorecardVersion.objects.exists()
        assert not Call.objects.filter(pk=call.pk).exists()  # so alpha's id can only mean alpha's call
    assert supervisor.get(f"/quality/{beta}/calls/{call.pk}/").status_code == 404
    response = supervisor.post(f"/quality/{beta}/calls/{call.pk}/", _score_post(call, criteria, [4, 1, 2]))
    assert response.status_code == 404


def test_the_recordings_list_filters_by_operator_queue_day_and_scored(supervisor, tenants):
    supervisor.post(f"/quality/{tenants.alpha.slug}/scorecard/", _formset(CARD))
    criteria = _criteria(tenants.alpha)
    now = dt.datetime.now(dt.UTC)
    a = _call(tenants.alpha, operator_id=11, operator_name="Ann", queue_id=1, from_number="+14155550111")
    _call(tenants.alpha, operator_id=12, operator_name="Ben", queue_id=2, queue_name="Sales",
              from_number="+14155550112", started_at=now - dt.timedelta(days=3))  # fmt: skip
    _call(tenants.alpha, recorded=False, from_number="+14155550113")
    supervisor.post(f"/quality/{tenants.alpha.slug}/calls/{a.pk}/", _score_post(a, criteria, [4, 1, 2]))
    url = f"/quality/{tenants.alpha.slug}/"

    def shown(query: str) -> set[str]:
        content = supervisor.get(url + query).content.decode()
        return {n for n in ("+14155550111", "+14155550112", "+14155550113") if n in content}

    assert shown("") == {"+14155550111", "+14155550112"}  # only recorded calls
    assert shown("?operator=12") == {"+14155550112"}
    assert shown("?queue=1") == {"+14155550111"}
    assert shown("?scored=yes") == {"+14155550111"}
    assert shown("?scored=no") == {"+14155550112"}
    start = (now - dt.timedelta(days=1)).date().isoformat()
    assert shown(f"?start={start}") == {"+14155550111"}
    response = supervisor.get(url + "?start=2026-05-02&end=2026-05-01")
    assert response.status_code == 400
    assert b"The first day must not be after the last day." in response.content
    assert supervisor.get(url + "?operator=999").status_code == 400


def test_scores_per_operator_are_weekly_averages_in_the_companys_time_zone(db, tenants):
    ny = zoneinfo.ZoneInfo("America/New_York")
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        settings.timezone = "America/New_York"
        settings.save()
        from quality.scoring import scorecard_save

        version = scorecard_save(criteria=[CriterionSpec("Overall", max_points=100)], by="t")
        criterion = version.criteria.get()

    def scored(operator: tuple[int, str], at: dt.datetime, points: int) -> None:
        call = make_call(tenants.alpha, operator_id=operator[0], operator_name=operator[1], started_at=at)
        with tenant_context(tenants.alpha):
            check_score_call(call=call, version_id=version.pk, marks={criterion.pk: MarkInput(points)},
                             comment="", scorer_id=1, scorer_name="t")  # fmt: skip

    ann, ben = (21, "Ann"), (22, "Ben")
    utc = dt.UTC
    scored(ann, dt.datetime(2026, 11, 2, 15, tzinfo=utc), 80)  # Mon 2 Nov
    scored(ann, dt.datetime(2026, 11, 6, 15, tzinfo=utc), 60)  # Fri 6 Nov
    # Mon 9 Nov 02:00 UTC is still Sunday 8 Nov in New York: the week of 2 Nov.
    scored(ann, dt.datetime(2026, 11, 9, 2, tzinfo=utc), 55)
    scored(ann, dt.datetime(2026, 11, 10, 15, tzinfo=utc), 90)  # week of 9 Nov
    scored(ben, dt.datetime(2026, 11, 11, 15, tzinfo=utc), 50)
    scored(ben, dt.datetime(2026, 12, 1, 15, tzinfo=utc), 100)  # outside the period

    with tenant_context(tenants.alpha):
        weeks, trends = operator_weekly_scores(since=dt.date(2026, 11, 1), until=dt.date(2026, 11, 14), tz=ny)
    assert weeks == [dt.date(2026, 10, 26), dt.date(2026, 11, 2), dt.date(2026, 11, 9)]
    by_name = {t.operator_name: t for t in trends}
    assert by_name["Ann"].weeks == {
        dt.date(2026, 11, 2): (Decimal("65.00"), 3),  # (80 + 60 + 55) / 3
        dt.date(2026, 11, 9): (Decimal("90.00"), 1),
    }
    assert (by_name["Ann"].average, by_name["Ann"].count) == (Decimal("71.25"), 4)  # 285 / 4
    assert by_name["Ben"].weeks == {dt.date(2026, 11, 9): (Decimal("50.00"), 1)}


def test_the_operators_page_refuses_a_bad_period_with_a_message(supervisor, tenants):
    url = f"/quality/{tenants.alpha.slug}/operators/"
    response = supervisor.get(url + "?start=2026-01-01&end=2027-06-01")
    assert response.status_code == 400 and b"at most 366 days" in response.content
    assert supervisor.get(url + "?start=yesterday&end=2026-01-01").status_code == 400
    assert supervisor.get(url + "?start=2026-01-01&end=2026-02-01").status_code == 200


def test_the_wallboard_and_the_staff_home_link_to_quality(supervisor, tenants):
    assert b'href="/quality/"' in supervisor.get("/wallboard/").content
    assert b'href="/quality/"' in supervisor.get("/staff/").content
    page = supervisor.get("/quality/").content
    assert f'href="/quality/{tenants.alpha.slug}/"'.encode() in page


def test_the_recordings_list_costs_the_same_queries_for_many_calls(
    supervisor, tenants, django_assert_max_num_queries
):
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    supervisor.post(f"/quality/{tenants.alpha.slug}/scorecard/", _formset(CARD))
    criteria = _criteria(tenants.alpha)
    url = f"/quality/{tenants.alpha.slug}/"

    def queries() -> int:
        with CaptureQueriesContext(conn) as captured:
            assert supervisor.get(url).status_code == 200
        return len(captured)

    call = _call(tenants.alpha)
    supervisor.post(f"/quality/{tenants.alpha.slug}/calls/{call.pk}/", _score_post(call, criteria, [4, 1, 2]))
    few = queries()
    for _ in range(12):
        more = _call(tenants.alpha)
        supervisor.post(
            f"/quality/{tenants.alpha.slug}/calls/{more.pk}/", _score_post(more, criteria, [1, 1, 1])
        )
    assert queries() == few


def test_an_operator_reads_only_their_own_scores_of_the_companies_they_work_for(db, tenants):
    from tests.telephony.helpers import make_operator, make_queue

    connection.set_schema_to_public()
    me = make_operator({make_queue(tenants.alpha): 1}).user
    colleague = make_operator({make_queue(tenants.alpha): 1}).user
    supervisor = make_user(None, role=Role.SUPERVISOR)
    with tenant_context(tenants.alpha):
        from quality.scoring import scorecard_save

        version = scorecard_save(criteria=[CriterionSpec("Overall", max_points=10)], by="t")
        criterion = version.criteria.get()
    for operator, points, note in ((me, 7, "Warm greeting"), (colleague, 2, "Colleague secret")):
        call = make_call(tenants.alpha, operator_id=operator.pk, operator_name=operator.username)
        with tenant_context(tenants.alpha):
            check_score_call(call=call, version_id=version.pk, marks={criterion.pk: MarkInput(points, note)},
                             comment="", scorer_id=supervisor.pk, scorer_name="Sue")  # fmt: skip
    beta_call = make_call(tenants.beta, operator_id=me.pk, operator_name=me.username)
    with tenant_context(tenants.beta):
        beta_version = scorecard_save(criteria=[CriterionSpec("Beta only", max_points=10)], by="t")
        check_score_call(call=beta_call, version_id=beta_version.pk,
                         marks={beta_version.criteria.get().pk: MarkInput(9, "Beta note")},
                         comment="", scorer_id=supervisor.pk, scorer_name="Sue")  # fmt: skip
    connection.set_schema_to_public()

    assert b"/quality/my/scores/" in logged_in(None, me).get("/staff/").content
    page = logged_in(None, me).get("/quality/my/scores/")
    text = page.content.decode()
    assert page.status_code == 200 and "70.00%" in text and "Warm greeting" in text
    assert "Colleague secret" not in text and "20.00%" not in text
    assert "Beta note" not in text  # no skill in beta's queues: beta's schema is not read
    assert logged_in(None, supervisor).get("/quality/my/scores/").status_code == 403
    assert http(None).get("/quality/my/scores/").status_code == 302
