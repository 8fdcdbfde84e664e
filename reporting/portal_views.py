"""Reporting pages of a client company's portal: dashboard, calls, invoices, and their exports.

Every page runs in the tenant's schema (its host), for any member of the client company's staff
(admin, editor or viewer: these pages only read). Operators appear by first name and last initial.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Max, Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.permissions import CLIENT_STAFF, View, role_required
from reporting import exports, kpis, stats
from reporting.client_events import client_events
from reporting.filters import CallFilter
from reporting.invoice_pdf import render_credit_note_pdf, render_pdf
from reporting.models import Invoice, Statistic
from reporting.periods import PeriodForm
from scripts_engine.models import Disposition, ScriptAnswer
from telephony.calls.models import Call, TelephonySettings
from tenants import invoice_parties, payments
from tenants.models import FirstInvoice

CALLS_PER_PAGE = 50
# Call event fields that name platform staff (usernames): the client sees the call's operator instead.
STAFF_FIELDS = {"operator", "operator_id", "operator_name", "by", "user", "user_id", "username", "paused_by"}
NOTHING = "\N{EN DASH}"  # shown for a rate of a period with nothing to measure


def client_staff(view: View) -> View:
    """A reporting page: logged in on this host (else the login page), GET only, for the client
    company's staff (``permissions.CLIENT_STAFF``, else 403)."""
    return login_required(require_GET(role_required(CLIENT_STAFF)(view)))


def service_targets() -> dict[int, tuple[int, int]]:
    """(percent, seconds) of the service level promised per queue, by queue id (each queue's own,
    ``stats.queue_targets``); key 0, the calls without a queue: the contract's main queue's."""
    return {0: stats.contract_target(connection.tenant), **stats.queue_targets()}


def company_target(targets: dict[int, tuple[int, int]]) -> tuple[int, int] | None:
    """The one target of a company-wide figure when every queue has the same, else None: the figure
    (each call against its own queue's threshold, calls-weighted) is then compared per queue only."""
    distinct = set(targets.values())
    return distinct.pop() if len(distinct) == 1 else None


def _totals(values: dict[str, object]) -> kpis.Totals:
    return kpis.Totals(**{m: values.get(m) or 0 for m in kpis.METRICS})


def _figures(t: kpis.Totals, *, target_percent: int | None) -> dict[str, object]:
    """The headline numbers of a period, formatted for the page (and for the live refresh)."""
    rates = kpis.rates(t)
    sl = rates["service_level"]
    return {
        **call_breakdown(t),
        "offered": t.offered,
        "answered": t.answered,
        "abandoned": t.abandoned,
        "short_abandons": t.short_abandons,
        "service_level": _pct(sl),
        "sl_met": None if sl is None or target_percent is None else sl * 100 >= target_percent,
        "asa": _secs(rates["asa_seconds"]),
        "aht": _secs(rates["aht_seconds"]),
        "abandon_rate": _pct(rates["abandon_rate"]),
        "ivr_containment": _pct(rates["ivr_containment"]),
    }


def call_breakdown(t: kpis.Totals) -> dict[str, int]:
    """Where every incoming call of the period went, in parts that add up to ``incoming``:
    answered by an operator, abandoned in the queue, voicemail, callback requested, completed in
    the IVR, and the rest (waiting or talking now, hung up before reaching the queue, failed)."""
    incoming = t.calls - t.outbound_attempts
    parts = {
        "answered": t.answered,
        "abandoned": t.abandoned,
        "voicemails": t.voicemails,
        "callbacks_requested": t.callbacks_requested,
        "ivr_contained": t.ivr_contained,
    }
    return {"incoming": incoming, **parts, "other_calls": incoming - sum(parts.values())}


def _pct(value: float | None) -> str:
    return NOTHING if value is None else f"{value * 100:.1f} %"


def _secs(value: float | None) -> str:
    return NOTHING if value is None else f"{value:.0f} s"


def today_totals(*, today: dt.date, zone: dt.tzinfo, sl_seconds: int) -> kpis.Totals:
    """Today's figures straight from the call records (statistics may lag behind by a build): each
    call against its own queue's threshold, ``sl_seconds`` for the calls without a queue."""
    start, end = stats.day_bounds(today, zone)
    return stats.call_totals(
        start=start,
        end=end,
        sl_seconds=sl_seconds,
        short_abandon_seconds=TelephonySettings.current().short_abandon_seconds,
    )


SUMS = {m: Sum(m) for m in kpis.METRICS}


def _grouped(
    rows: object, by: str, targets: dict[int, tuple[int, int]] | None = None
) -> list[dict[str, object]]:
    """Per queue or per operator: their totals over the period, with KPIs ready to show; a queue's
    service level against its own target (``targets``, by queue id)."""
    out = []
    for values in rows.values("key").annotate(group_name=Max("name"), **SUMS).order_by("group_name", "key"):
        t = _totals(values)
        rates = kpis.rates(t)
        if by == Statistic.Dimension.OPERATOR:
            name = exports.visible_operator_name(values["group_name"] or "")
        else:
            name = values["group_name"] or ("No queue (IVR or direct)" if values["key"] == 0 else "")
        target = (targets or {}).get(values["key"]) if by == Statistic.Dimension.QUEUE else None
        sl = rates["service_level"]
        out.append(
            {
                "name": name,
                "t": t,
                "target": target,
                "sl_met": None if sl is None or target is None else sl * 100 >= target[0],
                "service_level": _pct(sl),
                "asa": _secs(rates["asa_seconds"]),
                "aht": _secs(rates["aht_seconds"]),
                "abandon_rate": _pct(rates["abandon_rate"]),
                "handle_time": _secs(t.handle_seconds),
            }
        )
    return out


def _series(buckets: list[tuple[object, str]], rows: dict[object, dict[str, object]]) -> dict[str, list]:
    """Chart data: one point per bucket (days, or quarter hours of one day), zero where no calls."""
    data: dict[str, list] = {
        "labels": [],
        "offered": [],
        "answered": [],
        "abandoned": [],
        "service_level": [],
    }
    for key, label in buckets:
        t = _totals(rows.get(key, {}))
        sl = kpis.rates(t)["service_level"]
        data["labels"].append(label)
        data["offered"].append(t.offered)
        data["answered"].append(t.answered)
        data["abandoned"].append(t.abandoned)
        data["service_level"].append(None if sl is None else round(sl * 100, 1))
    return data


def period_report(
    *, start: dt.date, end: dt.date, zone: dt.tzinfo, targets: dict[int, tuple[int, int]] | None = None
) -> dict[str, object]:
    """Totals, chart series and per-queue / per-operator tables from the daily (or 15-min) statistics;
    each queue's service level against its own target (``targets``, ``service_targets``)."""
    days = Statistic.objects.filter(granularity=Statistic.Granularity.DAY, day__gte=start, day__lte=end)
    queues = days.filter(dimension=Statistic.Dimension.QUEUE)
    if start == end:
        first, last = stats.day_bounds(start, zone)
        buckets, at = [], first
        while at < last:
            buckets.append((at, timezone.localtime(at, zone).strftime("%H:%M")))
            at += stats.INTERVAL
        interval_rows = Statistic.objects.filter(
            granularity=Statistic.Granularity.INTERVAL,
            dimension=Statistic.Dimension.QUEUE,
            period_start__gte=first,
            period_start__lt=last,
        )
        grouped = {r["period_start"]: r for r in interval_rows.values("period_start").annotate(**SUMS)}
        step = "15 minutes"
    else:
        buckets = [
            (d, d.strftime("%a %d %b"))
            for d in (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
        ]
        grouped = {r["day"]: r for r in queues.values("day").annotate(**SUMS)}
        step = "day"
    return {
        "totals": _totals(queues.aggregate(**SUMS)),
        # T as it was when the rows were built (a contract change applies from the next build)
        "thresholds": sorted(queues.order_by().values_list("sl_seconds", flat=True).distinct()),
        "chart": _series(buckets, grouped),
        "step": step,
        "by_queue": _grouped(queues, Statistic.Dimension.QUEUE, targets),
        "by_operator": _grouped(
            days.filter(dimension=Statistic.Dimension.OPERATOR), Statistic.Dimension.OPERATOR
        ),
    }


def _today() -> tuple[dt.date, dt.tzinfo]:
    zone = stats.local_zone()
    return timezone.localtime(timezone.now(), zone).date(), zone


@client_staff
def dashboard(request: HttpRequest) -> HttpResponse:
    today, zone = _today()
    targets = service_targets()
    target_percent, target_seconds = company_target(targets) or (None, None)
    form = PeriodForm.from_query(request.GET, today=today)
    live = today_totals(today=today, zone=zone, sl_seconds=targets[0][1])
    context: dict[str, object] = {
        "form": form,
        "today": today,
        "zone": zone,
        "live": _figures(live, target_percent=target_percent),
        "target_percent": target_percent,  # None: the queues' targets differ (see per queue)
        "target_seconds": target_seconds,
        "target_thresholds": sorted({seconds for _, seconds in targets.values()}),
    }
    status = 200
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        report = period_report(start=start, end=end, zone=zone, targets=targets)
        chart = report["chart"]
        chart["target"] = target_percent
        context["chart_rows"] = list(
            zip(
                chart["labels"],
                chart["offered"],
                chart["answered"],
                chart["abandoned"],
                chart["service_level"],
                strict=True,
            )
        )
        context.update(
            report=report,
            period=_figures(report["totals"], target_percent=target_percent),
            query=urlencode({"start": start.isoformat(), "end": end.isoformat()}),
        )
    else:
        status = 400
    return render(request, "reporting/dashboard.html", context, status=status)


@client_staff
def today_json(request: HttpRequest) -> JsonResponse:
    """Today's headline figures, for the dashboard's live refresh."""
    today, zone = _today()
    targets = service_targets()
    target_percent, _ = company_target(targets) or (None, None)
    live = today_totals(today=today, zone=zone, sl_seconds=targets[0][1])
    response = JsonResponse({"day": today.isoformat(), **_figures(live, target_percent=target_percent)})
    response["Cache-Control"] = "no-store"
    return response


def _filename(request: HttpRequest, what: str, fmt: str, *dates: dt.date) -> str:
    parts = [request.tenant.slug, what, *(d.isoformat() for d in dates)]
    return "-".join(parts) + "." + fmt


@client_staff
def statistics_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The chosen period's daily statistics, per queue and per operator."""
    if fmt not in exports.FORMATS:
        raise Http404("Unknown format.")
    today, _ = _today()
    form = PeriodForm.from_query(request.GET, today=today)
    if not form.is_valid():
        return exports.bad_request(
            "Choose a valid period: " + "; ".join(m for ms in form.errors.values() for m in ms)
        )
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    filename = _filename(request, "statistics", fmt, start, end)
    header = exports.STATISTIC_HEADER
    if fmt == "csv":
        return exports.csv_response(
            request, header=header, make_rows=lambda: exports.statistic_rows(start, end), filename=filename
        )
    rows = exports.statistic_rows(start, end)
    return exports.xlsx_response(title="Statistics", header=header, rows=rows, filename=filename)


def _call_filter(request: HttpRequest) -> CallFilter:
    return CallFilter(request.GET or None, tenant_id=request.tenant.pk, zone=stats.local_zone())


@client_staff
def call_list(request: HttpRequest) -> HttpResponse:
    filterset = _call_filter(request)
    valid = filterset.is_bound is False or filterset.is_valid()
    calls = filterset.qs if valid else Call.objects.none()
    page = Paginator(calls, CALLS_PER_PAGE).get_page(request.GET.get("page"))
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    labels = dict(filterset.filters["disposition"].extra["choices"])
    context = {
        "filterset": filterset,
        "page": page,
        "calls": [
            (
                c,
                exports.visible_operator_name(c.operator_name) if c.operator_name else "",
                labels.get(c.disposition),
            )
            for c in page
        ],
        "query": urlencode(query),
        "zone": filterset.zone,
    }
    return render(request, "reporting/calls.html", context, status=200 if valid else 400)


@client_staff
def calls_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The call list as filtered on the page, every page of it; the file is named by its period
    (today's date when it has none)."""

    def filename(data: dict[str, object]) -> str:
        dates = [d for d in (data.get("start"), data.get("end")) if d] or [_today()[0]]
        return _filename(request, "calls", fmt, *dates)

    return exports.filtered_export(
        request, fmt, filterset=_call_filter(request), title="Calls", header=exports.CALL_HEADER,
        rows=exports.call_rows, filename=filename, items="calls",
    )  # fmt: skip


def _event_rows(call: Call, operator: str, zone: dt.tzinfo) -> list[dict[str, object]]:
    rows = []
    for event in client_events(call.events.all()):
        data = event.data if isinstance(event.data, dict) else {"value": event.data}
        details = [
            (key.replace("_", " "), (operator or "Operator") if key in STAFF_FIELDS else value)
            for key, value in data.items()
        ]
        rows.append(
            {
                "at": timezone.localtime(event.at, zone),
                "kind": event.kind.replace("_", " "),
                "details": details,
            }
        )
    return rows


def _answer_rows(call: Call) -> list[dict[str, object]]:
    session = call.script_session
    if session is None:
        return []
    graph = session.version.graph if isinstance(session.version.graph, dict) else {}
    nodes = graph.get("nodes") if isinstance(graph.get("nodes"), dict) else {}
    rows = []
    for answer in ScriptAnswer.objects.filter(session=session).order_by("answered_at", "pk"):
        node = nodes.get(answer.node_id) if isinstance(nodes.get(answer.node_id), dict) else {}
        question = node.get("text") or node.get("prompt") or answer.node_id
        value = answer.value
        if isinstance(value, bool):
            shown = "Yes" if value else "No"
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = "" if value is None else str(value)
        rows.append({"at": answer.answered_at, "question": question, "node": answer.node_id, "value": shown})
    return rows


@client_staff
def call_detail(request: HttpRequest, pk: int) -> HttpResponse:
    call = get_object_or_404(Call.objects.select_related("contact", "script_session__version__script"), pk=pk)
    zone = stats.local_zone()
    operator = exports.visible_operator_name(call.operator_name) if call.operator_name else ""
    disposition = Disposition.objects.filter(code=call.disposition).values_list("label", flat=True).first()
    context = {
        "call": call,
        "zone": zone,
        "operator": operator,
        "disposition": disposition or call.disposition,
        "events": _event_rows(call, operator, zone),
        "answers": _answer_rows(call),
        "recording_deleted": call.events.filter(kind="recording_deleted").order_by("-at").first(),
    }
    return render(request, "reporting/call_detail.html", context)


@client_staff
def invoice_list(request: HttpRequest) -> HttpResponse:
    invoices = exports.client_invoices().defer("pdf")
    # The first invoice (contract deposit and set-up, in the public schema) belongs in the same list:
    # a client looking for "all my invoices" must not need to know it lives on the contract page.
    first = FirstInvoice.objects.with_paid().filter(client_id=request.tenant.pk).defer("pdf").first()
    return render(request, "reporting/invoices.html", {"invoices": invoices, "first_invoice": first})


@client_staff
def invoices_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in exports.FORMATS:
        raise Http404("Unknown format.")
    zone = stats.local_zone()
    filename = _filename(request, "invoices", fmt, _today()[0])
    if fmt == "csv":
        return exports.csv_response(
            request,
            header=exports.INVOICE_HEADER,
            make_rows=lambda: exports.invoice_rows(exports.client_invoices(), zone),
            filename=filename,
        )
    rows = exports.invoice_rows(exports.client_invoices(), zone)
    return exports.xlsx_response(
        title="Invoices", header=exports.INVOICE_HEADER, rows=rows, filename=filename
    )


def access_invoice(pk: int) -> Invoice:
    """An invoice the client company may see (issued or paid), else 404."""
    return get_object_or_404(exports.client_invoices(), pk=pk)


@client_staff
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = access_invoice(pk)
    zone = stats.local_zone()
    issued = invoice.issued_at.astimezone(zone).date()
    context = {
        "invoice": invoice,
        "lines": invoice.lines.all(),
        "credit_notes": invoice.credit_notes.all(),
        "zone": zone,
        "due_on": invoice_parties.due_on(issued),
        "pay_reference": invoice_parties.payment_reference(invoice.number),
        "bank": invoice_parties.bank(),
        "balance_due": max(
            invoice.total - invoice.credited - payments.payments_of(invoice_number=invoice.number), 0
        ),
    }
    return render(request, "reporting/invoice_detail.html", context)


@client_staff
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The exact bytes issued to the client (rendered once at issue by ``invoice_pdf``)."""
    invoice = access_invoice(pk)
    data = bytes(invoice.pdf) if invoice.pdf else render_pdf(invoice=invoice)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{request.tenant.slug}-{invoice.number}.pdf"'
    return response


@client_staff
def credit_note_pdf(request: HttpRequest, pk: int, note_pk: int) -> HttpResponse:
    """A credit note of one of this company's invoices, as a PDF."""
    note = get_object_or_404(access_invoice(pk).credit_notes.select_related("invoice"), pk=note_pk)
    response = HttpResponse(render_credit_note_pdf(note=note), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{request.tenant.slug}-{note.number}.pdf"'
    return response
