"""Script sessions: answers stored as given, refused answers store nothing, back re-evaluates."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from scripts_engine import lifecycle, sessions
from scripts_engine.models import ScriptAnswer, ScriptSession
from scripts_engine.sessions import SessionError
from tests.scripts_engine.conftest import active_script


@pytest.fixture
def hotline(db, tenants):
    version, _admin = active_script(tenants.alpha)
    with tenant_context(tenants.alpha):
        yield version


def _start(version) -> ScriptSession:
    return sessions.session_start(
        script=version.script, kind="call", contact={"first_name": "Ann", "x": "dropped"}
    )


def test_a_session_pins_the_active_version_and_keeps_only_declared_contact_fields(hotline):
    session = _start(hotline)
    assert session.version_id == hotline.pk
    assert session.contact == {"first_name": "Ann"}
    assert session.current_node == "greeting"


def test_answers_are_stored_as_given_and_the_step_moves_on(hotline):
    session = _start(hotline)
    step, error = sessions.session_ack(session=session, node_id="greeting")
    assert error is None and step.node == "topic"
    step, error = sessions.session_answer(
        session=session, node_id="topic", raw="Delivery Status", by_name="Olga"
    )
    assert error is None and step.node == "order_no"
    logged = list(ScriptAnswer.objects.filter(session=session).values_list("node_id", "value", "by_name"))
    assert logged == [("topic", "delivery status", "Olga")]
    assert ScriptSession.objects.get(pk=session.pk).answers == {"topic": "delivery status"}


def test_an_invalid_answer_is_refused_with_a_message_and_nothing_is_saved(hotline):
    session = _start(hotline)
    sessions.session_ack(session=session, node_id="greeting")
    sessions.session_answer(session=session, node_id="topic", raw="delivery status")
    step, error = sessions.session_answer(session=session, node_id="order_no", raw="12")
    assert error == "This answer does not have the expected form."
    assert step.node == "order_no"
    assert not ScriptAnswer.objects.filter(session=session, node_id="order_no").exists()
    assert "order_no" not in ScriptSession.objects.get(pk=session.pk).answers


def test_an_answer_to_a_node_that_is_not_current_is_refused(hotline):
    session = _start(hotline)
    step, error = sessions.session_answer(session=session, node_id="topic", raw="billing")
    assert error and step.node == "greeting"
    _, error = sessions.session_answer(session=session, node_id="no such node", raw="x")
    assert error
    assert not ScriptAnswer.objects.filter(session=session).exists()


def test_back_reopens_the_question_and_a_new_answer_re_routes_keeping_the_log(hotline):
    session = _start(hotline)
    sessions.session_ack(session=session, node_id="greeting")
    sessions.session_answer(session=session, node_id="topic", raw="opening hours")
    assert sessions.session_step(session=session).node == "hours"
    step = sessions.session_back(session=session)
    assert step.node == "topic" and step.value == "opening hours"
    step, error = sessions.session_answer(session=session, node_id="topic", raw="returns")
    assert error is None and step.node == "returns_info"
    assert list(ScriptAnswer.objects.filter(session=session).values_list("value", flat=True)) == [
        "opening hours",
        "returns",
    ]


def test_reaching_an_end_closes_the_session_with_its_disposition(hotline):
    session = _start(hotline)
    sessions.session_ack(session=session, node_id="greeting")
    sessions.session_answer(session=session, node_id="topic", raw="opening hours")
    step, _ = sessions.session_ack(session=session, node_id="hours")
    assert step.final and step.disposition == "resolved"
    session.refresh_from_db()
    assert session.state == "ended" and session.disposition == "resolved" and session.ended_at
    _, error = sessions.session_answer(session=session, node_id="goodbye", raw="x")
    assert error == "The script has ended."


def test_a_call_cannot_start_without_an_active_version_or_on_a_draft(hotline):
    draft = lifecycle.version_create_draft(script=hotline.script, graph=hotline.graph, by=hotline.created_by)
    with pytest.raises(SessionError):
        sessions.session_start(script=hotline.script, kind="call", version=draft)
    test = sessions.session_start(script=hotline.script, kind="test", version=draft)
    assert test.version_id == draft.pk


def test_the_interpreter_is_compiled_once_per_version(hotline, django_assert_max_num_queries):
    first = sessions.interpreter_for(hotline)
    assert sessions.interpreter_for(hotline) is first
    session = _start(hotline)
    with django_assert_max_num_queries(6):
        sessions.session_ack(session=session, node_id="greeting")
