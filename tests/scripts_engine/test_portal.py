"""The script pages of the portal: roles, import/export, node editing, test-run, bad input, isolation."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Role
from scripts_engine import lifecycle
from scripts_engine.models import ScriptAnswer, ScriptSession, ScriptVersion
from scripts_engine.samples import load_sample
from tests.conftest import logged_in, make_user
from tests.scripts_engine.conftest import active_script, seed_lists


@pytest.fixture
def editor_client(db, tenants):
    seed_lists(tenants.alpha, load_sample("hotline"))
    return logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_EDITOR))


def _create(client, **data) -> ScriptVersion:
    response = client.post(
        "/scripts/", {"name": "Hotline", "purpose": "inbound", "source": "sample:hotline", **data}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return ScriptVersion.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))


def test_an_editor_creates_a_draft_from_a_sample_and_every_page_renders(editor_client, tenants):
    with tenant_context(tenants.alpha):
        version = _create(editor_client)
    pages = ["/scripts/", f"/scripts/{version.script_id}/", f"/scripts/versions/{version.pk}/",
             f"/scripts/versions/{version.pk}/diagram/", f"/scripts/versions/{version.pk}/nodes/topic/",
             "/scripts/lists/"]  # fmt: skip
    for path in pages:
        response = editor_client.get(path)
        assert response.status_code == 200, path
    diagram = editor_client.get(f"/scripts/versions/{version.pk}/diagram/").content.decode()
    assert "<svg" in diagram and 'data-node="to_billing"' in diagram


def test_editing_a_node_saves_it_and_shows_its_problems(editor_client, tenants):
    with tenant_context(tenants.alpha):
        version = _create(editor_client)
    url = f"/scripts/versions/{version.pk}/nodes/hours/"
    response = editor_client.post(url, {"text": "Open 9 to 5.", "next": "nowhere"})
    assert response.status_code == 302
    page = editor_client.get(f"/scripts/versions/{version.pk}/").content.decode()
    assert "Open 9 to 5." in page and "dangling_edge" in page
    assert editor_client.post(f"/scripts/versions/{version.pk}/submit/").status_code == 302
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get(pk=version.pk).state == "draft"
    editor_client.post(url, {"text": "Open 9 to 5.", "next": "goodbye"})
    editor_client.post(f"/scripts/versions/{version.pk}/submit/")
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get(pk=version.pk).state == "submitted"


def test_live_check_reports_problems_without_saving(editor_client, tenants):
    with tenant_context(tenants.alpha):
        version = _create(editor_client)
    response = editor_client.post(
        f"/scripts/versions/{version.pk}/nodes/hours/check/", {"text": "x", "next": "nope"}
    )
    assert response.status_code == 200
    assert "dangling_edge" in [p["code"] for p in response.json()["problems"]]
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get(pk=version.pk).graph == load_sample("hotline")


def test_nodes_are_added_and_deleted(editor_client, tenants):
    with tenant_context(tenants.alpha):
        version = _create(editor_client)
    response = editor_client.post(
        f"/scripts/versions/{version.pk}/nodes/", {"node_id": "survey", "kind": "question"}
    )
    assert response.status_code == 302 and response["Location"].endswith("/nodes/survey/")
    editor_client.post(f"/scripts/versions/{version.pk}/nodes/survey/delete/")
    with tenant_context(tenants.alpha):
        assert "survey" not in ScriptVersion.objects.get(pk=version.pk).graph["nodes"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "This is not valid JSON"),
        ("[1, 2]", "A script is a JSON object"),
        ('{"nodes": 5}', "must be an object of nodes"),
        ("[" * 100_000, "not valid JSON"),
        ('{"a": "' + "x" * 300_000 + '"}', "too large"),
        (json.dumps({"nodes": {f"n{i}": {} for i in range(2001)}}), "at most 2000 nodes"),
    ],
)
def test_bad_json_imports_get_a_clear_error_never_a_500(editor_client, tenants, text, message):
    response = editor_client.post("/scripts/", {"name": "Imported", "purpose": "inbound", "source": "import",
                                                "json_text": text})  # fmt: skip
    assert response.status_code == 200
    assert message in response.content.decode()


def test_import_and_export_round_trip(editor_client, tenants):
    graph = load_sample("hotline")
    graph["title"] = "Imported hotline"
    with tenant_context(tenants.alpha):
        version = _create(editor_client, source="import", json_text=json.dumps(graph))
    exported = editor_client.get(f"/scripts/versions/{version.pk}/export/")
    assert exported["Content-Disposition"].startswith("attachment")
    assert json.loads(exported.content) == graph
    bad = editor_client.post(f"/scripts/versions/{version.pk}/import/", {"json_text": "{oops"})
    assert bad.status_code == 400 and "not valid JSON" in bad.content.decode()


def test_bad_node_ids_and_huge_payloads_never_give_a_500(editor_client, tenants):
    with tenant_context(tenants.alpha):
        version = _create(editor_client)
    base = f"/scripts/versions/{version.pk}"
    assert editor_client.get(f"{base}/nodes/no-such-node/").status_code == 404
    assert editor_client.get(f"{base}/nodes/{'x' * 300}/").status_code == 404
    assert editor_client.get(f"{base}/nodes/missing/").status_code == 404
    assert editor_client.post(f"{base}/nodes/", {"node_id": "1bad id", "kind": "say"}).status_code == 302
    assert editor_client.post(f"{base}/nodes/", {"node_id": "x", "kind": "rocket"}).status_code == 302
    huge = editor_client.post(f"{base}/nodes/hours/", {"text": "x" * 3_000_000})
    assert huge.status_code == 400
    odd = editor_client.post(f"{base}/nodes/route/", {"cases": "no arrow here", "otherwise": "goodbye"})
    assert odd.status_code == 400 and "condition -&gt; next node id" in odd.content.decode()


def test_a_viewer_reads_but_cannot_edit_or_create(db, tenants):
    version, _ = active_script(tenants.alpha)
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    assert viewer.get(f"/scripts/versions/{version.pk}/").status_code == 200
    assert viewer.post("/scripts/", {"name": "X", "purpose": "inbound", "source": "blank"}).status_code == 403
    assert viewer.post(f"/scripts/versions/{version.pk}/new-draft/").status_code == 403
    assert viewer.post(f"/scripts/versions/{version.pk}/nodes/hours/", {"text": "hi"}).status_code == 403


def test_a_test_run_walks_a_branch_to_an_end_and_logs_answers(db, tenants):
    version, admin = active_script(tenants.alpha)
    client = logged_in(tenants.alpha, admin)
    response = client.post(f"/scripts/versions/{version.pk}/test/", {"contact_first_name": "Jane"})
    url = response["Location"]
    assert "Good day Jane" in client.get(url).content.decode()
    client.post(url, {"action": "ack", "node": "greeting"})
    client.post(url, {"action": "answer", "node": "topic", "answer": "returns"})
    client.post(url, {"action": "ack", "node": "returns_info"})
    refused = client.post(url, {"action": "answer", "node": "wants_label", "answer": "maybe"})
    assert refused.status_code == 200 and "Please answer yes or no." in refused.content.decode()
    client.post(url, {"action": "answer", "node": "wants_label", "answer": "no"})
    page = client.get(url).content.decode()
    assert "The script has ended" in page and "resolved" in page
    with tenant_context(tenants.alpha):
        session = ScriptSession.objects.get(pk=int(url.rstrip("/").split("/")[-1]))
        assert session.kind == "test" and session.state == "ended"
        assert list(ScriptAnswer.objects.filter(session=session).values_list("node_id", flat=True)) == [
            "topic",
            "wants_label",
        ]


def test_another_company_cannot_read_export_or_run_a_script_by_guessing_urls(db, tenants):
    version, admin = active_script(tenants.alpha)
    alpha = logged_in(tenants.alpha, admin)
    session_url = alpha.post(f"/scripts/versions/{version.pk}/test/")["Location"]
    beta = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    with tenant_context(tenants.beta):
        assert not ScriptVersion.objects.filter(pk=version.pk).exists()
        assert not ScriptSession.objects.exists()
    base = f"/scripts/versions/{version.pk}"
    for path in [f"/scripts/{version.script_id}/", f"{base}/", f"{base}/export/", f"{base}/diagram/",
                 f"{base}/nodes/topic/", session_url]:  # fmt: skip
        assert beta.get(path).status_code == 404, path
    assert beta.post(f"{base}/test/").status_code == 404
    assert beta.post(session_url, {"action": "ack", "node": "greeting"}).status_code == 404
    assert "Hotline" not in beta.get("/scripts/").content.decode()


ODD_GRAPHS = [
    {},
    {"nodes": {}},
    {"start": 5, "fields": ["first_name"], "dispositions": "x", "specialists": [1, None], "nodes": {}},
    {"start": "a/b", "nodes": {"a/b": {"kind": "say", "next": "../x"}, "ok": {"kind": 7}}},
    {"start": "q", "nodes": {"q": {"kind": "question", "options": "red", "cases": 5, "next": ["x"]}}},
    {"start": "b", "nodes": {"b": {"kind": "branch", "cases": [{"when": 1}, "x"], "otherwise": {}}}},
    {"start": "a", "nodes": {"a": {"kind": "automatic", "options": [{"speech": "hi"}, 3], "prompt": None}}},
    {"title": "<script>alert(1)</script>", "start": "x", "nodes": {"x": {"kind": "end", "text": "</svg>"}}},
]


@pytest.mark.parametrize("graph", ODD_GRAPHS)
def test_odd_imported_graphs_render_everywhere_without_a_500(editor_client, tenants, graph):
    with tenant_context(tenants.alpha):
        version = _create(editor_client, source="import", json_text=json.dumps(graph))
    base = f"/scripts/versions/{version.pk}"
    paths = [f"{base}/", f"{base}/diagram/", f"{base}/export/", "/scripts/", f"/scripts/{version.script_id}/"]
    paths += [f"{base}/nodes/{nid}/" for nid in graph.get("nodes", {}) if "/" not in nid]
    for path in paths:
        response = editor_client.get(path)
        assert response.status_code in (200, 404), path
        if response["Content-Type"].startswith("text/html"):
            assert b"<script>alert(1)" not in response.content
    for nid in graph.get("nodes", {}):
        if "/" not in nid:
            editor_client.post(f"{base}/nodes/{nid}/check/", {"next": "x", "cases": "a -> b"})
            editor_client.post(f"{base}/nodes/{nid}/", {"text": "hello"})
    assert editor_client.post(f"{base}/test/").status_code == 302
    assert editor_client.post(f"{base}/submit/").status_code == 302
    assert (
        editor_client.post(f"{base}/settings/", {"start": "x", "contact_fields": "a, b"}).status_code == 302
    )


def test_a_test_run_of_the_automatic_survey_takes_keys_words_and_timeouts(db, tenants):
    version, admin = active_script(tenants.alpha, sample="survey", name="Survey")
    client = logged_in(tenants.alpha, admin)
    url = client.post(f"/scripts/versions/{version.pk}/test/")["Location"]
    assert "phone menu" in client.get(url).content.decode()
    refused = client.post(url, {"action": "answer", "node": "rating", "answer": "9"})
    assert "No option matches this input." in refused.content.decode()
    client.post(url, {"action": "answer", "node": "rating", "answer": "2"})
    client.post(url, {"action": "answer", "node": "low_reason", "answer": "the waiting time was long"})
    client.post(url, {"action": "no_input", "node": "recommend"})
    page = client.get(url).content.decode()
    assert "we will look into it" in page and "survey_done" in page
    with tenant_context(tenants.alpha):
        answers = ScriptAnswer.objects.filter(session__pk=int(url.rstrip("/").split("/")[-1]))
        assert list(answers.values_list("node_id", "value")) == [
            ("rating", "2"),
            ("low_reason", "waiting_time"),
            ("recommend", None),
        ]


def test_a_client_admin_puts_an_approved_version_on_calls_and_an_editor_may_not(db, tenants):
    v1, admin = active_script(tenants.alpha)
    manager = make_user(None, role=Role.ACCOUNT_MANAGER)
    editor = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_EDITOR))
    draft_url = editor.post(f"/scripts/versions/{v1.pk}/new-draft/")["Location"]
    v2_pk = int(draft_url.rstrip("/").split("/")[-1])
    editor.post(f"/scripts/versions/{v2_pk}/submit/")
    with tenant_context(tenants.alpha):
        lifecycle.version_approve(version=ScriptVersion.objects.get(pk=v2_pk), by=manager)
    assert editor.post(f"/scripts/versions/{v2_pk}/activate/").status_code == 403
    logged_in(tenants.alpha, admin).post(f"/scripts/versions/{v2_pk}/activate/")
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get(pk=v2_pk).state == "active"
        assert ScriptVersion.objects.get(pk=v1.pk).state == "retired"


def test_nul_characters_are_refused_everywhere_never_a_500(editor_client, tenants):
    with tenant_context(tenants.alpha):
        version = _create(editor_client)
    base = f"/scripts/versions/{version.pk}"
    response = editor_client.post(f"{base}/nodes/hours/", {"text": "bad\x00text", "next": "goodbye"})
    assert response.status_code == 400
    assert (
        editor_client.post(f"{base}/nodes/hours/check/", {"text": "a\x00", "next": "goodbye"}).status_code
        == 200
    )
    graph = load_sample("hotline")
    graph["title"] = "nul\x00title"
    bad_import = editor_client.post(f"{base}/import/", {"json_text": json.dumps(graph)})
    assert bad_import.status_code == 400
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get(pk=version.pk).graph == load_sample("hotline")
    url = editor_client.post(f"{base}/test/", {"contact_first_name": "Ja\x00ne"})["Location"]
    editor_client.post(url, {"action": "ack", "node": "greeting"})
    editor_client.post(url, {"action": "answer", "node": "topic", "answer": "other"})
    refused = editor_client.post(url, {"action": "answer", "node": "request", "answer": "call me\x00 back"})
    assert refused.status_code == 200 and "cannot be stored" in refused.content.decode()
