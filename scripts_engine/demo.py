"""Demo scripts: each demo company gets its sample script, approved and active (idempotent)."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from accounts.models import Role, User
from scripts_engine import lifecycle
from scripts_engine.models import Disposition, Script, ScriptVersion, Specialist
from scripts_engine.samples import load_sample
from tenants.models import Client

DEMO_SCRIPTS = {
    "acme": ("hotline", "Customer hotline", Script.Purpose.INBOUND),
    "globex": ("sales", "Sales call", Script.Purpose.OUTBOUND),
    "initech": ("survey", "Satisfaction survey", Script.Purpose.SURVEY),
}
DISPOSITION_LABELS = {
    "resolved": "Resolved",
    "callback": "Callback agreed",
    "transferred": "Transferred",
    "escalated": "Escalated",
    "sale": "Sale",
    "no_sale": "No sale",
    "survey_done": "Survey completed",
    "survey_no_answer": "No answer",
    "survey_operator": "Talked to an operator",
}
SPECIALISTS = {"billing": ("Billing team", "+12025550199")}


def seed_demo_scripts(*, client: Client, approver: User) -> ScriptVersion | None:
    """Give a demo company its sample script, active, with the dispositions and specialists it uses."""
    if client.slug not in DEMO_SCRIPTS:
        return None
    sample, name, purpose = DEMO_SCRIPTS[client.slug]
    graph = load_sample(sample)
    with tenant_context(client):
        for code in graph["dispositions"]:
            Disposition.objects.get_or_create(
                code=code, defaults={"label": DISPOSITION_LABELS.get(code, code)}
            )
        for key in graph["specialists"]:
            label, phone = SPECIALISTS.get(key, (key.title(), "+12025550100"))
            Specialist.objects.get_or_create(key=key, defaults={"name": label, "phone": phone})
        existing = Script.objects.filter(name=name).first()
        if existing is not None:
            return existing.active_version
        author = User.objects.filter(role=Role.CLIENT_ADMIN, is_active=True).order_by("pk").first()
        if author is None:
            return None
        version = lifecycle.script_create(name=name, purpose=purpose, graph=graph, by=author)
        lifecycle.version_submit(version=version, by=author)
        lifecycle.version_approve(version=version, by=approver)
        return lifecycle.version_activate(version=version, by=approver)
