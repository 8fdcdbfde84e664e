"""Versions go draft → submitted → approved → active; running sessions keep their version (R9)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django_tenants.utils import tenant_context

from accounts.models import Role
from scripts_engine import lifecycle, sessions
from scripts_engine.lifecycle import LifecycleError, ScriptProblems
from scripts_engine.models import ScriptVersion
from scripts_engine.samples import load_sample
from tests.conftest import make_user
from tests.scripts_engine.conftest import active_script, seed_lists


@pytest.fixture
def people(db, tenants):
    return {
        "editor": make_user(tenants.alpha, role=Role.CLIENT_EDITOR),
        "viewer": make_user(tenants.alpha, role=Role.CLIENT_VIEWER),
        "admin": make_user(tenants.alpha, role=Role.CLIENT_ADMIN),
        "manager": make_user(None, role=Role.ACCOUNT_MANAGER, first_name="Max", last_name="Manager"),
        "operator": make_user(None, role=Role.OPERATOR),
    }


@pytest.fixture
def draft(people, tenants):
    graph = load_sample("hotline")
    seed_lists(tenants.alpha, graph)
    with tenant_context(tenants.alpha):
        return lifecycle.script_create(name="Hotline", purpose="inbound", graph=graph, by=people["editor"])


def test_a_draft_goes_through_submission_approval_and_activation(people, draft, tenants):
    with tenant_context(tenants.alpha):
        lifecycle.version_submit(version=draft, by=people["editor"])
        lifecycle.version_approve(version=draft, by=people["manager"])
        assert draft.state == "approved" and draft.approved_by_name == "Max Manager"
        assert draft.approved_by_id == people["manager"].pk
        lifecycle.version_activate(version=draft, by=people["admin"])
        assert draft.state == "active" and draft.script.active_version == draft


def test_only_approved_versions_can_be_activated(people, draft, tenants):
    with tenant_context(tenants.alpha):
        with pytest.raises(LifecycleError):
            lifecycle.version_activate(version=draft, by=people["admin"])
        lifecycle.version_submit(version=draft, by=people["editor"])
        with pytest.raises(LifecycleError):
            lifecycle.version_activate(version=draft, by=people["admin"])
        assert ScriptVersion.objects.get(pk=draft.pk).state == "submitted"


def test_activating_a_new_version_retires_the_old_one_but_a_session_keeps_v1(db, tenants):
    v1, admin = active_script(tenants.alpha)
    manager = make_user(None, role=Role.ACCOUNT_MANAGER)
    with tenant_context(tenants.alpha):
        session = sessions.session_start(script=v1.script, kind="call", contact={"first_name": "Ann"})
        graph = load_sample("hotline")
        graph["nodes"]["greeting"]["text"] = "Hello from version two!"
        v2 = lifecycle.version_create_draft(script=v1.script, graph=graph, by=admin)
        lifecycle.version_submit(version=v2, by=admin)
        lifecycle.version_approve(version=v2, by=manager)
        lifecycle.version_activate(version=v2, by=manager)

        v1.refresh_from_db()
        assert v1.state == "retired" and v1.retired_at is not None
        step = sessions.session_step(session=session)
        assert session.version_id == v1.pk and step.text.startswith("Good day Ann")
        fresh = sessions.session_start(script=v1.script, kind="call")
        assert fresh.version_id == v2.pk
        assert sessions.session_step(session=fresh).text == "Hello from version two!"


def test_the_database_refuses_two_active_versions_of_one_script(db, tenants):
    v1, admin = active_script(tenants.alpha)
    with tenant_context(tenants.alpha):
        other = lifecycle.version_create_draft(script=v1.script, graph=v1.graph, by=admin)
        with pytest.raises(IntegrityError), transaction.atomic():
            ScriptVersion.objects.filter(pk=other.pk).update(state="active")


def test_editors_cannot_approve_and_viewers_cannot_edit(people, draft, tenants):
    with tenant_context(tenants.alpha):
        lifecycle.version_submit(version=draft, by=people["editor"])
        for someone in (people["editor"], people["admin"], people["operator"]):
            with pytest.raises(PermissionDenied):
                lifecycle.version_approve(version=draft, by=someone)
        with pytest.raises(PermissionDenied):
            lifecycle.version_create_draft(script=draft.script, graph={}, by=people["viewer"])
        with pytest.raises(PermissionDenied):
            lifecycle.version_update_draft(version=draft, graph={}, by=people["viewer"])


def test_a_submitted_or_approved_version_cannot_be_edited(people, draft, tenants):
    with tenant_context(tenants.alpha):
        lifecycle.version_submit(version=draft, by=people["editor"])
        with pytest.raises(LifecycleError):
            lifecycle.version_update_draft(version=draft, graph={}, by=people["editor"])
        lifecycle.version_approve(version=draft, by=people["manager"])
        with pytest.raises(LifecycleError):
            lifecycle.version_update_draft(version=draft, graph={}, by=people["editor"])
        assert ScriptVersion.objects.get(pk=draft.pk).graph == load_sample("hotline")


def test_a_broken_draft_is_refused_with_problems_naming_the_node(people, tenants):
    graph = load_sample("hotline")
    seed_lists(tenants.alpha, graph)
    graph["nodes"]["hours"]["next"] = "nowhere"
    with tenant_context(tenants.alpha):
        version = lifecycle.script_create(name="Broken", purpose="inbound", graph=graph, by=people["editor"])
        with pytest.raises(ScriptProblems) as refused:
            lifecycle.version_submit(version=version, by=people["editor"])
        assert any(p.node == "hours" and p.code == "dangling_edge" for p in refused.value.problems)
        assert ScriptVersion.objects.get(pk=version.pk).state == "draft"


def test_dispositions_and_specialists_must_be_in_the_company_lists(people, tenants):
    graph = load_sample("hotline")
    with tenant_context(tenants.beta):
        codes = {p.code for p in lifecycle.version_problems(graph=graph)}
    assert {"unknown_disposition", "unknown_specialist"} <= codes


def test_rejection_sends_the_version_back_to_draft_with_the_reason(people, draft, tenants):
    with tenant_context(tenants.alpha):
        lifecycle.version_submit(version=draft, by=people["editor"])
        with pytest.raises(LifecycleError):
            lifecycle.version_reject(version=draft, by=people["manager"], reason="  ")
        lifecycle.version_reject(version=draft, by=people["manager"], reason="Greeting is too long.")
        assert draft.state == "draft" and draft.rejection_reason == "Greeting is too long."
        assert draft.rejected_by_name == "Max Manager"
        lifecycle.version_update_draft(version=draft, graph=load_sample("hotline"), by=people["editor"])


def test_edits_of_different_nodes_from_stale_copies_are_both_kept(people, draft, tenants):
    with tenant_context(tenants.alpha):
        stale = ScriptVersion.objects.get(pk=draft.pk)

        def say(node_id, text):
            def change(graph):
                graph["nodes"][node_id]["text"] = text
                return graph

            return change

        lifecycle.version_change_draft(version=draft, change=say("hours", "Open late."), by=people["editor"])
        lifecycle.version_change_draft(
            version=stale, change=say("returns_info", "30 days."), by=people["admin"]
        )
        nodes = ScriptVersion.objects.get(pk=draft.pk).graph["nodes"]
        assert nodes["hours"]["text"] == "Open late." and nodes["returns_info"]["text"] == "30 days."
