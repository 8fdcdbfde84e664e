"""The portal's lists as files: CSV (streamed) and XLSX (openpyxl, write-only), safe to open in Excel.

A cell whose text starts with ``= + - @`` (or a tab / carriage return) would run as a formula in a
spreadsheet (CSV injection): in CSV it gets a leading ``'``; in XLSX it is written as a text cell,
which a spreadsheet never evaluates. A plain number such as ``+15550100100`` or ``-3`` cannot do
harm and stays as it is, so phone numbers remain usable.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django_tenants.utils import tenant_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from reporting import kpis
from reporting.models import Invoice, Statistic
from telephony.calls.models import Call
from tenants.money import amount

if TYPE_CHECKING:
    from reporting.filters import LocalDaysFilter

Row = Sequence[object]
FORMATS = {"csv", "xlsx"}
RISKY_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?[0-9]+([.,][0-9]+)?$")
# openpyxl (pure Python here: no lxml) wrote ~1,250 call rows a second (33,000 in 26 s): past this the
# file would take longer than a request should; CSV streams any number of rows (~13,000 a second).
XLSX_MAX_ROWS = 20_000
CHUNK_ROWS = 500


def risky(text: str) -> bool:
    """Would a spreadsheet read this text as a formula?"""
    return text.startswith(RISKY_START) and not PLAIN_NUMBER.match(text)


def csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, str) and risky(value):
        return "'" + value
    return value


def visible_operator_name(stored: str) -> str:
    """The name a client company is shown for an operator: first name and last initial ("Jane D.").

    Calls keep the operator's full name (or username); e-mail addresses never leave the platform.
    """
    words = stored.split()
    if not words or "@" in stored:
        return "Operator"
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[-1][0].upper()}."


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(header: Row, rows: Iterable[Row]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)  # the BOM makes Excel read UTF-8
    for row in rows:
        yield writer.writerow([csv_cell(v) for v in row])


def _chunks(lines: Iterator[str]) -> Iterator[str]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= CHUNK_ROWS:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def _in_tenant(tenant: object, make_rows: Callable[[], Iterable[Row]], header: Row) -> Iterator[str]:
    """Rows are read while the response is sent: open the tenant's schema around that, not before."""
    with tenant_context(tenant):
        yield from _chunks(_csv_lines(header, make_rows()))


def _attachment(response: StreamingHttpResponse | FileResponse, filename: str) -> None:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"


def csv_response(
    request: HttpRequest, *, header: Row, make_rows: Callable[[], Iterable[Row]], filename: str
) -> StreamingHttpResponse:
    """A CSV file streamed in chunks of rows (the web server sends each chunk as it comes)."""
    chunks = _in_tenant(request.tenant, make_rows, header)
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    _attachment(response, filename)
    return response


def bad_request(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def filtered_export(
    request: HttpRequest,
    fmt: str,
    *,
    filterset: LocalDaysFilter,
    title: str,
    header: Row,
    rows: Callable[[QuerySet, dt.tzinfo], Iterable[Row]],
    filename: Callable[[dict[str, object]], str],
    items: str = "rows",
) -> HttpResponse:
    """A list as filtered on its page, every page of it, as ``fmt`` (``FORMATS``, else 404): CSV
    streamed, XLSX up to ``XLSX_MAX_ROWS`` ``items``; filters that do not hold are a 400 naming them.
    ``rows`` makes the rows of the filtered query set in the company's time zone; ``filename``
    names the file from the valid filters."""
    if fmt not in FORMATS:
        raise Http404("Unknown format.")
    if filterset.is_bound and not filterset.is_valid():
        errors = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in filterset.form.errors.items())
        return bad_request("Check the filters: " + errors)
    found, zone = filterset.qs, filterset.zone
    name = filename(filterset.form.cleaned_data if filterset.is_bound else {})
    if fmt == "csv":
        return csv_response(request, header=header, make_rows=lambda: rows(found, zone), filename=name)
    if found.count() > XLSX_MAX_ROWS:
        return bad_request(
            f"More than {XLSX_MAX_ROWS:,} {items} for one spreadsheet: narrow the filters, or download CSV."
        )
    return xlsx_response(title=title, header=header, rows=rows(found, zone), filename=name)


def xlsx_response(*, title: str, header: Row, rows: Iterable[Row], filename: str) -> FileResponse:
    """One worksheet written row by row (write-only mode keeps memory flat), sent as a file."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(list(header))
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (FileResponse closes it)
    workbook.save(spool)
    spool.seek(0)
    response = FileResponse(
        spool, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    _attachment(response, filename)
    return response


def _xlsx_cell(sheet: object, value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)  # already in the client company's time zone
    if isinstance(value, str) and value.startswith(RISKY_START):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # text, never a formula
        return cell
    return value


# What each list exports. Times are the client company's local times.

CALL_HEADER = [
    "id",
    "started (local)",
    "direction",
    "from",
    "to",
    "contact",
    "queue",
    "operator",
    "outcome",
    "disposition",
    "wait s",
    "talk s",
    "hold s",
    "wrap-up s",
    "transferred to",
    "recording",
]


def call_rows(calls: QuerySet[Call], zone: dt.tzinfo) -> Iterator[Row]:
    """One row per call of the (already filtered) queryset, read in chunks from the database."""
    outcomes = dict(Call.Outcome.choices)
    directions = dict(Call.Direction.choices)
    fields = [
        "id",
        "started_at",
        "direction",
        "from_number",
        "to_number",
        "contact__first_name",
        "contact__last_name",
        "queue_name",
        "operator_name",
        "outcome",
        "disposition",
        "wait_seconds",
        "talk_seconds",
        "hold_seconds",
        "wrapup_seconds",
        "transferred_to",
        "recording_url",
    ]
    for values in calls.values_list(*fields).iterator(chunk_size=2000):
        (pk, started, direction, frm, to, first, last, queue, operator, outcome, *rest) = values
        disposition, wait, talk, hold, wrapup, transferred, recording = rest
        yield [
            pk,
            started.astimezone(zone),
            directions.get(direction, direction),
            frm,
            to,
            f"{first or ''} {last or ''}".strip(),
            queue,
            visible_operator_name(operator) if operator else "",
            outcomes.get(outcome, outcome),
            disposition,
            wait,
            talk,
            hold,
            wrapup,
            transferred,
            recording,
        ]


STATISTIC_HEADER = [
    "day",
    "by",
    "name",
    "calls",
    "offered",
    "answered",
    "answered within SL",
    "SL threshold s",
    "abandoned",
    "short abandons",
    "service level %",
    "ASA s",
    "AHT inbound s",
    "abandon rate %",
    "handled",
    "talk s",
    "hold s",
    "wrap-up s",
    "IVR entered",
    "IVR contained",
    "IVR containment %",
    "transfers",
    "callbacks requested",
    "voicemails",
    "outbound attempts",
    "outbound handled",
    "AHT outbound s",
    "handle time s",
]


def percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def statistic_rows(first: dt.date, last: dt.date) -> Iterator[Row]:
    """The daily rows of the period, per queue then per operator, each with its KPIs."""
    rows = Statistic.objects.filter(granularity=Statistic.Granularity.DAY, day__gte=first, day__lte=last)
    for row in rows.order_by("day", "-dimension", "name", "key").iterator(chunk_size=2000):
        rates = kpis.rates(row.totals())
        if row.dimension == Statistic.Dimension.OPERATOR:
            name = visible_operator_name(row.name)
        else:
            name = row.name or ("No queue" if row.key == 0 else "")
        yield [
            row.day,
            row.get_dimension_display(),
            name,
            row.calls,
            row.offered,
            row.answered,
            row.answered_within_sl,
            row.sl_seconds,
            row.abandoned,
            row.short_abandons,
            percent(rates["service_level"]),
            seconds(rates["asa_seconds"]),
            seconds(rates["aht_seconds"]),
            percent(rates["abandon_rate"]),
            row.handled,
            row.talk_seconds,
            row.hold_seconds,
            row.wrapup_seconds,
            row.ivr_entered,
            row.ivr_contained,
            percent(rates["ivr_containment"]),
            row.transfers,
            row.callbacks_requested,
            row.voicemails,
            row.outbound_attempts,
            row.outbound_handled,
            seconds(rates["aht_outbound_seconds"]),
            row.talk_seconds + row.hold_seconds + row.wrapup_seconds,
        ]


INVOICE_HEADER = [
    "number",
    "period start",
    "period end",
    "state",
    "currency",
    "subtotal",
    "tax %",
    "tax",
    "total",
    "credited",
    "issued (local)",
    "paid (local)",
]


def client_invoices() -> QuerySet[Invoice]:
    """The invoices a client company sees: issued and paid ones (a draft is not theirs yet), as in
    the REST API."""
    zero = Value(Decimal("0.00"), output_field=DecimalField(max_digits=14, decimal_places=2))
    return (
        Invoice.objects.exclude(state=Invoice.State.DRAFT)
        .annotate(credited=Coalesce(Sum("credit_notes__total"), zero))
        .order_by("-period_start")  # Meta.ordering is not applied to a query with GROUP BY
    )


def invoice_rows(invoices: QuerySet[Invoice], zone: dt.tzinfo) -> Iterator[Row]:
    for invoice in invoices.defer("pdf"):
        yield [
            invoice.number,
            invoice.period_start,
            invoice.period_end,
            invoice.get_state_display(),
            invoice.currency,
            amount(invoice.subtotal, invoice.currency),
            invoice.tax_percent,
            amount(invoice.tax, invoice.currency),
            amount(invoice.total, invoice.currency),
            amount(invoice.credited, invoice.currency),
            invoice.issued_at.astimezone(zone) if invoice.issued_at else None,
            invoice.paid_at.astimezone(zone) if invoice.paid_at else None,
        ]
