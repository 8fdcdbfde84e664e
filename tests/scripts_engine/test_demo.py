"""The demo gives each company its sample script, active, and running it twice changes nothing."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from accounts.models import Role
from scripts_engine import demo, sessions
from scripts_engine.models import Disposition, Script, ScriptVersion, Specialist
from tests.conftest import make_user


def test_demo_scripts_are_active_with_their_lists_and_seeding_is_idempotent(db, tenants, monkeypatch):
    monkeypatch.setitem(demo.DEMO_SCRIPTS, "alpha", demo.DEMO_SCRIPTS["acme"])
    make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    manager = make_user(None, role=Role.ACCOUNT_MANAGER)
    first = demo.seed_demo_scripts(client=tenants.alpha, approver=manager)
    again = demo.seed_demo_scripts(client=tenants.alpha, approver=manager)
    assert first is not None and again is not None and first.pk == again.pk
    assert demo.seed_demo_scripts(client=tenants.beta, approver=manager) is None
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get().state == "active"
        assert Specialist.objects.get(key="billing").phone.startswith("+")
        assert Disposition.objects.filter(code="resolved").exists()
        session = sessions.session_start(
            script=Script.objects.get(), kind="call", contact={"first_name": "Ann"}
        )
        assert sessions.session_step(session=session).text.startswith("Good day Ann")
