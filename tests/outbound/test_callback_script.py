"""A callback opens on the operator's part of the company's inbound script, not on the phone
menu's question: the caller's earlier menu choice is kept, else the menu's no-input path is taken."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from outbound import dialer
from scripts_engine import sessions
from scripts_engine.models import Script, ScriptVersion
from telephony.calls.models import Call
from telephony.models import OperatorProfile
from tests.factories import CallbackFactory, CallFactory
from tests.outbound.dialer_kit import operators_on, phone
from tests.telephony.helpers import make_queue

MENU = {
    "format": 1,
    "start": "menu",
    "dispositions": ["done"],
    "nodes": {
        "menu": {
            "kind": "automatic", "prompt": "Press 1 for sales, 2 for support.",
            "options": [{"digits": "1", "value": "sales", "next": "to_sales"},
                        {"digits": "2", "value": "support", "next": "to_support"}],
            "timeout_next": "to_anyone",
        },
        "to_sales": {"kind": "handover", "text": "Connecting you to sales.", "next": "sales_hello"},
        "to_support": {"kind": "handover", "text": "Connecting you to support.", "next": "support_hello"},
        "to_anyone": {"kind": "handover", "text": "Connecting you.", "next": "hello"},
        "sales_hello": {"kind": "say", "text": "Sales: how can I help?", "next": "end"},
        "support_hello": {"kind": "say", "text": "Support: what is the problem?", "next": "end"},
        "hello": {"kind": "say", "text": "How can I help?", "next": "end"},
        "end": {"kind": "end", "disposition": "done"},
    },
}  # fmt: skip


@pytest.fixture
def menu_script(db, tenants):
    with tenant_context(tenants.alpha):
        script = Script.objects.create(name="Switchboard")
        ScriptVersion.objects.create(script=script, number=1, graph=MENU, state="active")
    return script


@pytest.fixture
def dial_pass(db):
    """The dial pass over this test's operators only (it is cross-tenant)."""
    baseline = OperatorProfile.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def run():
        mine = list(OperatorProfile.objects.filter(pk__gt=baseline).values_list("pk", flat=True))
        return dialer.unscoped_dial_pass(operator_ids=mine)

    return run


def _opened_on(tenants, dial_pass, *, menu_choice: str | None) -> tuple[str, str]:
    """Where the callback's script opens for the operator: (node, text)."""
    queue = make_queue(tenants.alpha)
    with tenant_context(tenants.alpha):
        earlier_session = None
        if menu_choice is not None:  # the caller chose in the menu, then hung up waiting
            earlier_session = sessions.session_start(
                script=Script.objects.get(name="Switchboard"), kind="call"
            )
            sessions.session_answer(session=earlier_session, node_id="menu", raw=menu_choice)
        earlier = CallFactory(from_number=phone(), script_session=earlier_session, abandoned=True)
        CallbackFactory(call=earlier, reason="abandoned", queue_id=queue.pk)
    operators_on(queue, 1)
    (reserved,) = dial_pass()
    with tenant_context(tenants.alpha):
        session = Call.objects.get(pk=reserved.call_id).script_session
        step = sessions.session_step(session=session)
    return step.node, step.text


def test_a_callback_opens_where_the_callers_menu_choice_led(menu_script, tenants, dial_pass):
    assert _opened_on(tenants, dial_pass, menu_choice="support") == (
        "support_hello",
        "Support: what is the problem?",
    )


def test_a_callback_without_a_menu_choice_opens_on_the_menus_no_input_path(menu_script, tenants, dial_pass):
    assert _opened_on(tenants, dial_pass, menu_choice=None) == ("hello", "How can I help?")
