"""What the console's JSON endpoints share: the request's JSON body, and the supervisors' gate."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse

from accounts.permissions import SUPERVISORS


def json_body(request: HttpRequest, refused: type[Exception]) -> dict[str, Any]:
    """The request's JSON object; anything else is refused with ``refused`` (the caller's 409)."""
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise refused("A JSON object is expected.")
    return data


def supervisor_only(
    refused: type[Exception],
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Platform host, logged-in supervisors (and platform admins) only; ``refused`` raised by the
    view is a JSON 409 with its message."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.tenant.is_platform or not SUPERVISORS.allows(request.user):
                raise PermissionDenied(SUPERVISORS.refusal)
            try:
                return view(request, *args, **kwargs)
            except refused as error:
                return JsonResponse({"error": str(error)}, status=409)

        return wrapped

    return decorate
