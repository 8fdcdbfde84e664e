"""Forms of the order page, the back office and the portal: strict checks, friendly messages."""

from __future__ import annotations

import datetime
import re
import uuid
import zoneinfo
from decimal import Decimal
from pathlib import Path

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from accounts.models import CLIENT_ROLES, Role
from tenants import contracts, queue_terms
from tenants.models import RESERVED_SLUGS, Client, Order, Service

LANGUAGES = [
    ("en", "English"), ("fr", "French"), ("de", "German"), ("es", "Spanish"), ("it", "Italian"),
    ("ru", "Russian"), ("ka", "Georgian"), ("vi", "Vietnamese"), ("uk", "Ukrainian"), ("pl", "Polish"),
]  # fmt: skip
PHONE_CHARS = set("+0123456789 -().")
VAT_ID = re.compile(r"[A-Z]{2}[A-Z0-9+*]{2,13}")


class OrderForm(forms.ModelForm):
    """The public order form (R3); ``token`` makes a resubmission of the same form one order."""

    token = forms.UUIDField(widget=forms.HiddenInput)
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.filter(is_active=True),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one service."},
    )
    languages = forms.MultipleChoiceField(
        choices=LANGUAGES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose a language."},
    )
    time_zone = forms.ChoiceField(choices=[])
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    draft_script = forms.FileField(
        required=False,
        label="Draft call script (optional)",
        help_text="A .txt, .md, .pdf, .docx, .odt or .json file of up to 2 MB.",
    )

    class Meta:
        model = Order
        fields = [
            "services", "legal_name", "registration_number", "tax_number", "address", "portal_slug",
            "contact_first_name", "contact_last_name", "contact_email", "contact_phone", "calls_per_month",
            "peak_hour_calls", "coverage", "coverage_hours", "time_zone", "languages", "start_date",
            "numbers_wanted", "notes",
        ]  # fmt: skip
        labels = {
            "portal_slug": "Portal address",
            "contact_first_name": "Contact's first name",
            "contact_last_name": "Contact's last name",
            "contact_email": "Contact's e-mail",
            "contact_phone": "Contact's phone",
            "calls_per_month": "Expected calls per month",
            "peak_hour_calls": "Expected calls in the peak hour",
            "numbers_wanted": "Phone numbers wanted",
        }
        help_texts = {"portal_slug": "Your portal will live at <name>.<our address>, e.g. acme."}
        widgets = {"address": forms.Textarea(attrs={"rows": 3}), "notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        zones = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})
        self.fields["time_zone"].choices = [("", "Choose…")] + [(z, z) for z in zones]
        if not self.is_bound:
            self.initial.setdefault("token", uuid.uuid4())

    def clean_portal_slug(self) -> str:
        slug = self.cleaned_data["portal_slug"].strip().lower()
        if slug in RESERVED_SLUGS:
            raise ValidationError("This address is reserved; please choose another.")
        taken = (
            Client.objects.filter(slug=slug).exists()
            or Order.objects.filter(portal_slug=slug)
            .exclude(state=Order.State.REJECTED)
            .exclude(token=self.data.get("token"))
            .exists()
        )
        if taken:
            raise ValidationError("This address is already taken; please choose another.")
        return slug

    def clean_contact_phone(self) -> str:
        phone = self.cleaned_data["contact_phone"].strip()
        digits = sum(c.isdigit() for c in phone)
        if not set(phone) <= PHONE_CHARS or not 7 <= digits <= 15:
            raise ValidationError("Enter a phone number with 7 to 15 digits, e.g. +1 555 010 0000.")
        return phone

    def clean_start_date(self) -> datetime.date:
        start = self.cleaned_data["start_date"]
        today = timezone.localdate()
        if start < today:
            raise ValidationError("The start date cannot be in the past.")
        if start > today + datetime.timedelta(days=366):
            raise ValidationError("Choose a start date within the next year.")
        return start

    def clean_draft_script(self) -> object:
        upload = self.cleaned_data.get("draft_script")
        if upload:
            check_draft_script(upload)
        return upload

    def clean(self) -> dict[str, object]:
        data = super().clean()
        month, peak = data.get("calls_per_month"), data.get("peak_hour_calls")
        if month and peak and peak > month:
            self.add_error("peak_hour_calls", "The peak hour cannot have more calls than the whole month.")
        if data.get("coverage") == Order.Coverage.BUSINESS and not data.get("coverage_hours"):
            self.add_error("coverage_hours", "Tell us your business hours, e.g. Mon-Fri 09:00-18:00.")
        return data

    def order_columns(self) -> dict[str, object]:
        """The cleaned values that are the order's own columns."""
        skip = {"services", "token", "draft_script"}
        return {k: v for k, v in self.cleaned_data.items() if k not in skip}


DRAFT_SCRIPT_SUFFIXES = {".txt", ".md", ".pdf", ".docx", ".odt", ".json"}


def check_draft_script(upload: UploadedFile) -> None:
    """Refuse uploads that are too big or not a text/document format we can read."""
    allowed = DRAFT_SCRIPT_SUFFIXES
    suffix = Path(upload.name).suffix.lower()
    if suffix not in allowed:
        raise ValidationError(f"Please upload one of: {', '.join(sorted(allowed))}.")
    if upload.size > settings.ORDER_UPLOAD_MAX_BYTES:
        raise ValidationError(
            f"The file is larger than {settings.ORDER_UPLOAD_MAX_BYTES // 1024 // 1024} MB."
        )
    head = upload.read(8)
    upload.seek(0)
    if suffix == ".pdf" and not head.startswith(b"%PDF"):
        raise ValidationError("This file is not a PDF document.")
    if suffix in {".docx", ".odt"} and not head.startswith(b"PK"):
        raise ValidationError("This file is not a valid document.")
    if suffix in {".txt", ".md", ".json"} and b"\x00" in upload.read(4096):
        upload.seek(0)
        raise ValidationError("This file is not a text file.")
    upload.seek(0)


class ContractTermsForm(forms.Form):
    """What an account manager may change in a draft; each save is a new version."""

    term_months = forms.IntegerField(label="Term (months)", min_value=1, max_value=60)
    notice_days = forms.IntegerField(label="Notice (days)", min_value=0, max_value=365)
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    coverage = forms.CharField(max_length=200)
    end_date = forms.DateField(
        required=False,
        label="Service ends on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: the contract renews; set it once notice is given.",
    )
    deposit = forms.DecimalField(
        label="Deposit",
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=3,  # the finest currency (KWD); the contract's currency is checked on save
        required=False,
        help_text="Charged on the first invoice with the first month's fees, not taxed; 0 for none.",
    )
    tax_treatment = forms.ChoiceField(label="Tax", choices=contracts.TAX_TREATMENTS)
    tax_percent = forms.DecimalField(
        label="Tax rate %",
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
        required=False,
        help_text="Value added tax on every price of this contract, e.g. 19.00.",
    )
    client_vat_id = forms.CharField(
        label="Client's VAT id",
        max_length=20,
        required=False,
        help_text="Needed for reverse charge, e.g. DE123456789.",
    )
    suspended_days_billed = forms.BooleanField(
        label="Suspended days are billed",
        required=False,
        help_text="Fees keep running while the company is suspended (e.g. for non-payment).",
    )
    evidence_retention_months = forms.IntegerField(
        label="Evidence kept (months)",
        min_value=12,
        max_value=120,
        required=False,
        initial=contracts.DEFAULT_EVIDENCE_RETENTION_MONTHS,
        help_text="How long the webhooks behind each invoice line are kept (12 to 120; empty: 24).",
    )
    supervision_visible_to_client = forms.BooleanField(
        label="Client sees live supervision",
        required=False,
        help_text="Each time a supervisor listened, whispered or barged in shows in the call's detail "
        "in the client's portal and API.",
    )
    certification_valid_days = forms.IntegerField(
        label="Operator certification valid (days)",
        min_value=7,
        max_value=730,
        required=False,
        initial=contracts.DEFAULT_CERTIFICATION_VALID_DAYS,
        help_text="How long a pass of the company's quiz is valid (7 to 730 days; empty: 180).",
    )
    recording_retention_months = forms.IntegerField(
        label="Recordings kept (months)",
        min_value=1,
        max_value=120,
        required=False,
        initial=contracts.DEFAULT_RECORDING_RETENTION_MONTHS,
        help_text="Call recordings older than this are deleted, the deletion logged (1 to 120; empty: 12).",
    )
    body = forms.CharField(
        label="Special conditions",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    def clean_client_vat_id(self) -> str:
        vat_id = "".join(self.cleaned_data["client_vat_id"].split()).upper()
        if vat_id and not VAT_ID.fullmatch(vat_id):
            raise ValidationError(
                "A VAT id is a country code and 2 to 13 letters or digits, e.g. DE123456789."
            )
        return vat_id

    def clean(self) -> dict[str, object]:
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The service cannot end before it starts.")
        if data.get("tax_treatment") == contracts.REVERSE_CHARGE:
            if not data.get("client_vat_id") and "client_vat_id" not in self.errors:
                self.add_error("client_vat_id", "Reverse charge needs the client's VAT id.")
            data["tax_percent"] = Decimal("0.00")
        elif data.get("tax_percent") is None and "tax_percent" not in self.errors:
            self.add_error("tax_percent", "Enter the tax rate (0 when no tax applies).")
        return data

    def terms(self) -> dict[str, object]:
        data = dict(self.cleaned_data)
        data.pop("body")
        data["start_date"] = data["start_date"].isoformat()
        data["end_date"] = data["end_date"].isoformat() if data.get("end_date") else ""
        data["tax_percent"] = str(data["tax_percent"].quantize(Decimal("0.01")))
        months = data.get("evidence_retention_months")
        data["evidence_retention_months"] = months or contracts.DEFAULT_EVIDENCE_RETENTION_MONTHS
        days = data.get("certification_valid_days")
        data["certification_valid_days"] = days or contracts.DEFAULT_CERTIFICATION_VALID_DAYS
        recordings = data.get("recording_retention_months")
        data["recording_retention_months"] = recordings or contracts.DEFAULT_RECORDING_RETENTION_MONTHS
        data["deposit"] = str(data.get("deposit") or Decimal("0"))  # checked against the currency on save
        return data


SL_PERCENT, SL_SECONDS = queue_terms.SL_PERCENT_RANGE, queue_terms.SL_SECONDS_RANGE


class QueueRowForm(forms.Form):
    """One queue the client asks for on the order form (issue 20): its name, service level and
    reserved seats; the service level left empty is the standard one (80 % in 20 s)."""

    name = forms.CharField(label="Queue", max_length=queue_terms.QUEUE_NAME_LENGTH, required=False)
    sl_percent = forms.IntegerField(
        label="% of calls answered", min_value=SL_PERCENT[0], max_value=SL_PERCENT[1], required=False
    )
    sl_seconds = forms.IntegerField(
        label="…within seconds", min_value=SL_SECONDS[0], max_value=SL_SECONDS[1], required=False
    )
    reserved_seats = forms.IntegerField(
        label="Reserved operators", min_value=0, max_value=queue_terms.MOST_RESERVED_SEATS, required=False
    )

    def clean(self) -> dict[str, object]:
        data = super().clean()
        if self.filled() and "name" not in self.errors and not (data.get("name") or "").strip():
            self.add_error("name", "Name the queue, e.g. Main or Sales.")
        if (data.get("sl_percent") is None) != (data.get("sl_seconds") is None):
            missing = "sl_seconds" if data.get("sl_seconds") is None else "sl_percent"
            if missing not in self.errors:
                self.add_error(missing, "Give both the percent and the seconds, or neither (80 % in 20 s).")
        return data

    def filled(self) -> bool:
        """Whether anything is entered in the row (a blank row is no queue)."""
        data = getattr(self, "cleaned_data", {})
        return any(data.get(name) not in (None, "") for name in self.fields if name != "DELETE")

    def row(self) -> dict[str, object]:
        data = self.cleaned_data
        return {
            "name": " ".join(data["name"].split()),
            "sl_percent": data.get("sl_percent") or contracts.DEFAULT_SL_PERCENT,
            "sl_seconds": data.get("sl_seconds") or contracts.DEFAULT_SL_SECONDS,
            "reserved_seats": data.get("reserved_seats") or 0,
        }


class ContractQueueForm(QueueRowForm):
    """One queue's terms on the account manager's contract form: the order's, plus a cap."""

    max_seats = forms.IntegerField(
        label="Maximum seats", min_value=1, max_value=queue_terms.MOST_SEATS, required=False,
        help_text="Empty: no cap in seats.",
    )  # fmt: skip
    max_share_percent = forms.IntegerField(
        label="Maximum % of the pool", min_value=1, max_value=100, required=False,
        help_text="Of the operators logged in; empty: no cap in percent.",
    )  # fmt: skip

    def clean(self) -> dict[str, object]:
        data = super().clean()
        reserved, most = data.get("reserved_seats") or 0, data.get("max_seats")
        if most is not None and reserved > most and "max_seats" not in self.errors:
            self.add_error(
                "max_seats", f"The maximum ({most}) cannot be fewer than the reserved seats ({reserved})."
            )
        return data

    def row(self) -> dict[str, object]:
        data = self.cleaned_data
        return {
            **super().row(), "max_seats": data.get("max_seats"),
            "max_share_percent": data.get("max_share_percent"),
        }  # fmt: skip


class BaseQueueFormSet(forms.BaseFormSet):
    """The queues of an order or a contract: rows left blank (or emptied) are skipped, a row ticked
    for deletion is dropped; at least one queue (an order without any asks for the standard main queue), names
    unique whatever their case."""

    require_one = True

    def live_forms(self) -> list[QueueRowForm]:
        """The rows that are queues: filled in and not ticked for deletion."""
        return [form for form in self.forms if form.filled() and not form.cleaned_data.get("DELETE")]

    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.live_forms():
            name = " ".join(form.cleaned_data["name"].split())
            if name.casefold() in seen:
                raise ValidationError(f"The queue {name!r} is named twice; give each queue once.")
            seen.add(name.casefold())
        if self.require_one and not seen:
            raise ValidationError("Name at least one queue with its service level.")

    def rows(self) -> list[dict[str, object]]:
        """The rows, checked once more by the contract's own rules (``clean_queue_rows``)."""
        rows = [form.row() for form in self.live_forms()]
        if not rows and not self.require_one:
            return []
        return queue_terms.clean_queue_rows(rows)


class OrderQueueFormSet(BaseQueueFormSet):
    require_one = False  # none asked for: the standard main queue


OrderQueues = forms.formset_factory(
    QueueRowForm, formset=OrderQueueFormSet, extra=3, max_num=queue_terms.MOST_QUEUES,
    validate_max=True,
)  # fmt: skip
ContractQueues = forms.formset_factory(
    ContractQueueForm, formset=BaseQueueFormSet, extra=2, can_delete=True,
    max_num=queue_terms.MOST_QUEUES, validate_max=True,
)  # fmt: skip


def order_queues(data: object = None) -> BaseQueueFormSet:
    """The order form's queues: three rows, the first named Main."""
    if data is not None:  # a row is read as posted, never compared with the rows shown first
        return OrderQueues(data, prefix="queues")
    return OrderQueues(prefix="queues", initial=[{"name": queue_terms.DEFAULT_QUEUE_NAME}])


def contract_queues(
    data: object = None, *, terms: dict[str, object], main_name: str | None = None
) -> BaseQueueFormSet:
    """The contract form's queues, one row per queue of the version's terms and two blank ones.
    The first row is the company's default queue: for a live company it shows that queue's name
    (``main_name``), whatever the version called it (an old flat version calls it Main)."""
    if data is not None:  # a row is read as posted, never compared with the rows shown first
        return ContractQueues(data, prefix="queues")
    initial = [row.as_terms() for row in queue_terms.queue_terms(terms).rows]
    if main_name:
        initial[0]["name"] = main_name
    return ContractQueues(prefix="queues", initial=initial)


class PaymentForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=12, decimal_places=2)
    currency = forms.RegexField(
        regex=r"^[A-Za-z]{3}$", max_length=3, error_messages={"invalid": "Like EUR or USD."}
    )
    paid_on = forms.DateField(label="Paid on", widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(max_length=80, help_text="The bank transfer's reference.")


class GoLiveOverrideForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        min_length=10,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the service starts before the first invoice is paid in full (kept in the audit log).",
    )


class MemberForm(forms.Form):
    """A client admin changes a colleague's role or deactivates them."""

    role = forms.ChoiceField(choices=[(r.value, r.label) for r in Role if r in CLIENT_ROLES])
    is_active = forms.BooleanField(label="Active", required=False)
