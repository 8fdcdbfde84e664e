"""The back office's page per contract (issue 20): the same figures as the wallboard's contracts
panel, for the contract's client company (account managers, platform host)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from accounts.permissions import ACCOUNT_MANAGERS, role_required
from console import wallboard, wallboard_fairness
from tenants.models import Contract


@role_required(ACCOUNT_MANAGERS)
def contract_routing(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(Contract.objects.select_related("client", "in_force"), pk=pk)
    now = timezone.now()
    panel: dict[str, object] = {"rows": [], "favoured": None}
    if contract.client_id is not None:
        today = wallboard.queues_today(now, tenant_id=contract.client_id)  # its queues only
        panel = wallboard_fairness.panel(now=now, queues=today, tenant_id=contract.client_id)
    favoured = panel["favoured"]
    context = {
        "contract": contract, "rows": panel["rows"], "favoured": favoured, "at": now,
        "window": settings.ROUTING_SL_WINDOW_MINUTES,
        "favours_us": bool(favoured and favoured["tenant_id"] == contract.client_id),
    }  # fmt: skip
    return render(request, "backoffice/contract_routing.html", context)
