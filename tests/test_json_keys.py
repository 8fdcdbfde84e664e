"""A key of a JSON field is read from the field read whole, never named in ``values_list``
(``config.queries.json_key``): Django would raise and keep a FieldError whose traceback holds the
request's every frame in a reference cycle, left for a garbage collection that pauses the process."""

from __future__ import annotations

from django.core.exceptions import FieldError
from django_tenants.utils import tenant_context

from config.queries import json_key
from operations.callbacks import attempts_of
from telephony import conferences
from telephony.calls.records import add_event
from tests.factories import CallbackFactory, CallFactory

SID = "CF" + "2" * 32


def _exceptions(found: list[object]) -> list[object]:
    return [o for o in found if isinstance(o, BaseException)]


def test_json_key_reads_a_key_of_an_object_and_nothing_else():
    assert json_key({"sid": SID}, "sid") == SID
    assert json_key({"sid": SID}, "text") is None
    assert json_key(None, "sid") is None  # no row
    assert json_key(["sid"], "sid") is None  # a JSON array
    assert json_key("sid", "sid") is None


def test_naming_a_json_key_in_values_list_leaves_an_exception_for_the_collector(db, tenants, garbage):
    # Why the key is read whole: the ORM's own way leaves a caught FieldError behind, in a cycle.
    with tenant_context(tenants.alpha):
        call = CallFactory()
        add_event(call, "conference:conference-start", dedupe="start", sid=SID)
        assert list(call.events.values_list("data__sid", flat=True)) == [SID]
    assert any(isinstance(o, FieldError) for o in _exceptions(garbage()))


def test_the_calls_conference_and_a_callbacks_tries_are_read_without_an_exception(db, tenants, garbage):
    with tenant_context(tenants.alpha):
        call = CallFactory()
        add_event(call, "conference:conference-start", dedupe="start", sid=SID)
        assert conferences.conference_sid(call) == SID
        callback = CallbackFactory()
        tried = CallFactory(try_of=callback)
        add_event(tried, "callback_result", outcome="no-answer")
        assert [a.outcome for a in attempts_of([callback.pk])[callback.pk]] == ["no-answer"]
    assert _exceptions(garbage()) == []
