"""Script review on the platform host: across tenants, each version under its own company."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Role
from scripts_engine import lifecycle
from scripts_engine.models import ScriptVersion
from scripts_engine.review import graph_diff, unscoped_submitted_versions
from scripts_engine.samples import load_sample
from tests.conftest import http, logged_in, make_user
from tests.scripts_engine.conftest import active_script, seed_lists


def _submit(tenant, graph, name):
    seed_lists(tenant, graph)
    editor = make_user(tenant, role=Role.CLIENT_EDITOR)
    with tenant_context(tenant):
        version = lifecycle.script_create(name=name, purpose="inbound", graph=graph, by=editor)
        lifecycle.version_submit(version=version, by=editor)
    return version


@pytest.fixture
def manager_client(db, tenants):
    return logged_in(None, make_user(None, role=Role.ACCOUNT_MANAGER, first_name="Max", last_name="M"))


def test_the_back_office_lists_each_submitted_version_under_its_own_company(manager_client, tenants):
    alpha_v = _submit(tenants.alpha, load_sample("hotline"), "Alpha hotline")
    beta_v = _submit(tenants.beta, load_sample("survey"), "Beta survey")
    listed = {(s.client.slug, s.script_name, s.version_id) for s in unscoped_submitted_versions()}
    assert ("alpha", "Alpha hotline", alpha_v.pk) in listed and ("beta", "Beta survey", beta_v.pk) in listed
    page = manager_client.get("/backoffice/scripts/").content.decode()
    assert (
        f"/backoffice/scripts/alpha/{alpha_v.pk}/" in page
        and f"/backoffice/scripts/beta/{beta_v.pk}/" in page
    )


def test_review_shows_the_diff_against_the_active_version_and_approval_activates(manager_client, tenants):
    v1, admin = active_script(tenants.alpha)
    graph = load_sample("hotline")
    graph["nodes"]["hours"]["text"] = "We are open around the clock."
    del graph["nodes"]["request"]
    graph["nodes"]["route"]["otherwise"] = "goodbye"
    graph["nodes"]["thanks"] = {"kind": "say", "text": "Thanks!", "next": "goodbye"}
    graph["nodes"]["label_sent"]["next"] = "thanks"
    with tenant_context(tenants.alpha):
        v2 = lifecycle.version_create_draft(script=v1.script, graph=graph, by=admin)
        lifecycle.version_submit(version=v2, by=admin)
    page = manager_client.get(f"/backoffice/scripts/alpha/{v2.pk}/").content.decode()
    assert "We are open around the clock." in page and "v1 (active)" in page and "<svg" in page
    assert manager_client.get(f"/backoffice/scripts/alpha/{v2.pk}/?against=99").status_code == 200
    assert manager_client.get(f"/backoffice/scripts/alpha/{v2.pk}/?against=x%00").status_code == 200
    diff = graph_diff(v1.graph, graph)
    assert diff.added == ["thanks"] and diff.removed == ["request"]
    assert diff.changed == ["hours", "label_sent", "route"]
    response = manager_client.post(
        f"/backoffice/scripts/alpha/{v2.pk}/decide/", {"decision": "approve_activate"}
    )
    assert response.status_code == 302
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get(pk=v2.pk).state == "active"
        assert ScriptVersion.objects.get(pk=v1.pk).state == "retired"


def test_reject_needs_a_reason_and_returns_the_draft(manager_client, tenants):
    version = _submit(tenants.alpha, load_sample("hotline"), "Hotline")
    url = f"/backoffice/scripts/alpha/{version.pk}/decide/"
    manager_client.post(url, {"decision": "reject", "reason": ""})
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get(pk=version.pk).state == "submitted"
    manager_client.post(url, {"decision": "reject", "reason": "Please shorten the greeting."})
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get(pk=version.pk).rejection_reason == "Please shorten the greeting."


def test_a_version_is_looked_up_in_the_company_named_in_the_url_only(manager_client, tenants):
    version = _submit(tenants.alpha, load_sample("hotline"), "Hotline")
    with tenant_context(tenants.beta):
        assert not ScriptVersion.objects.filter(pk=version.pk).exists()
    assert manager_client.get(f"/backoffice/scripts/beta/{version.pk}/").status_code == 404
    assert manager_client.get(f"/backoffice/scripts/nobody/{version.pk}/").status_code == 404
    assert manager_client.get(f"/backoffice/scripts/public/{version.pk}/").status_code == 404


def test_client_users_and_operators_cannot_reach_the_back_office(db, tenants):
    version = _submit(tenants.alpha, load_sample("hotline"), "Hotline")
    operator = logged_in(None, make_user(None, role=Role.OPERATOR))
    assert operator.get("/backoffice/scripts/").status_code == 403
    assert (
        operator.post(f"/backoffice/scripts/alpha/{version.pk}/decide/", {"decision": "approve"}).status_code
        == 403
    )
    assert http(None).get("/backoffice/scripts/").status_code == 302
    admin = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))
    assert admin.get("/backoffice/scripts/").status_code == 404  # not even a page on the tenant host
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get(pk=version.pk).state == "submitted"
