"""Fetching scripts for a request, with the permission check in the name (``access_…``).

Every query runs in the request's schema, so another company's ids simply do not exist (404).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from accounts.permissions import CLIENT_EDITORS, CLIENT_STAFF, require
from scripts_engine.editing import NODE_ID
from scripts_engine.models import Script, ScriptSession, ScriptVersion


def require_reader(request: HttpRequest) -> None:
    require(CLIENT_STAFF, request.user)


def require_editor(request: HttpRequest) -> None:
    require(CLIENT_EDITORS, request.user)


def access_script(request: HttpRequest, pk: int) -> Script:
    require_reader(request)
    return get_object_or_404(Script, pk=pk)


def access_version(request: HttpRequest, pk: int, *, edit: bool = False) -> ScriptVersion:
    """A version of this company's scripts; ``edit`` also requires an editor and a draft."""
    require_reader(request)
    version = get_object_or_404(ScriptVersion.objects.select_related("script"), pk=pk)
    if edit:
        require_editor(request)
    return version


def access_test_session(request: HttpRequest, pk: int) -> ScriptSession:
    """A test-run of this company (calls are the console's business)."""
    require_reader(request)
    return get_object_or_404(
        ScriptSession.objects.select_related("version__script"), pk=pk, kind=ScriptSession.Kind.TEST
    )


def checked_node_id(node_id: str) -> str:
    if not NODE_ID.match(node_id):
        raise Http404("No such node.")
    return node_id
