"""What the REST API v1 shows of calls, contacts, statistics, invoices and scripts."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reporting import recording_log
from reporting.models import Invoice, InvoiceLine, Statistic
from scripts_engine.models import Script, ScriptAnswer
from telephony.calls.models import Call, CallEvent, Contact, RecordingAccess
from tenants import money as money_rules

CALL_FIELDS = [
    "id",
    "call_sid",
    "direction",
    "from_number",
    "to_number",
    "contact_id",
    "status",
    "queue_id",
    "queue_name",
    "started_at",
    "ivr_started_at",
    "queued_at",
    "offered_at",
    "answered_at",
    "ended_at",
    "wrapup_ended_at",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "wrapup_seconds",
    "operator_name",
    "disposition",
    "transferred_to",
    "outcome",
    "outcome_at",
    "after_hours",
    "recording_seconds",
]


class CallSerializer(serializers.ModelSerializer):
    class Meta:
        model = Call
        fields = CALL_FIELDS


class RecordingAccessSerializer(serializers.ModelSerializer):
    """One play, download or deletion of a recording: who (a user, an API key; none for the
    retention task), when (UTC), where (``surface``) and from which address."""

    who = serializers.SerializerMethodField(
        help_text="As the portal shows them: the company's staff by name, "
        'the platform\'s as "Jane D.", an API key by its name.'
    )

    class Meta:
        model = RecordingAccess
        fields = ["id", "at", "action", "surface", "platform_staff", "who", "call_id", "call_sid",
                  "recording_sid", "ip", "user_agent"]  # fmt: skip

    def get_who(self, access: RecordingAccess) -> str:
        return recording_log.who(access)


class CallEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallEvent
        fields = ["at", "kind", "data"]


class AnswerSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScriptAnswer
        fields = ["node_id", "value", "raw"]


class CallDetailSerializer(CallSerializer):
    events = CallEventSerializer(many=True, read_only=True)
    answers = serializers.SerializerMethodField()

    class Meta(CallSerializer.Meta):
        fields = [*CALL_FIELDS, "events", "answers"]

    @extend_schema_field(AnswerSerializer(many=True))
    def get_answers(self, call: Call) -> list[dict[str, object]]:
        if call.script_session_id is None:
            return []
        answers = ScriptAnswer.objects.filter(session_id=call.script_session_id).order_by("pk")
        return AnswerSerializer(answers, many=True).data


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = [
            "id",
            "phone",
            "first_name",
            "last_name",
            "email",
            "company",
            "language",
            "vip",
            "updated_at",
        ]


STATISTIC_PLAIN = [
    f.name for f in Statistic._meta.concrete_fields if f.name not in {"id", "built_at", "period_start", "day"}
]


class StatisticSerializer(serializers.ModelSerializer):
    service_level = serializers.FloatField(read_only=True, allow_null=True, source="rates.service_level")
    asa_seconds = serializers.FloatField(read_only=True, allow_null=True, source="rates.asa_seconds")
    aht_seconds = serializers.FloatField(
        read_only=True, allow_null=True, source="rates.aht_seconds", help_text="Inbound calls' AHT."
    )
    aht_outbound_seconds = serializers.FloatField(
        read_only=True, allow_null=True, source="rates.aht_outbound_seconds", help_text="Outbound calls' AHT."
    )
    abandon_rate = serializers.FloatField(read_only=True, allow_null=True, source="rates.abandon_rate")
    ivr_containment = serializers.FloatField(read_only=True, allow_null=True, source="rates.ivr_containment")
    handle_seconds = serializers.IntegerField(
        read_only=True,
        help_text="Talk + hold + wrap-up of the row's calls; per operator, their time on your calls.",
    )

    class Meta:
        model = Statistic
        exclude = ["id", "built_at"]

    def to_representation(self, row: Statistic) -> dict[str, object]:
        """The same fields as declared (they document the schema), without DRF's per-field walk."""
        data: dict[str, object] = {name: getattr(row, name) for name in STATISTIC_PLAIN}
        data["period_start"] = row.period_start.isoformat().replace("+00:00", "Z")
        data["day"] = row.day.isoformat()
        data.update(row.rates)
        data["handle_seconds"] = row.talk_seconds + row.hold_seconds + row.wrapup_seconds
        return data


class MoneyField(serializers.DecimalField):
    """An invoice amount as an exact decimal string in its currency's smallest unit ("1104" JPY,
    "120.00" EUR): the currency is the invoice's (``currency`` on it, or on the line's invoice)."""

    rule = staticmethod(money_rules.amount)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_digits=None, decimal_places=None, read_only=True, **kwargs)

    def get_attribute(self, instance: Invoice | InvoiceLine) -> Decimal:
        currency = instance.currency if isinstance(instance, Invoice) else instance.invoice.currency
        return self.rule(super().get_attribute(instance), currency)


class PriceField(MoneyField):
    """A unit price: exact, with at least its currency's places ("2.5" JPY a minute)."""

    rule = staticmethod(money_rules.price)


class InvoiceLineSerializer(serializers.ModelSerializer):
    unit_price = PriceField()
    amount = MoneyField()

    class Meta:
        model = InvoiceLine
        fields = [
            "position",
            "service_code",
            "kind",
            "description",
            "quantity",
            "unit_price",
            "amount",
            "call_count",
            "billed_seconds",
            "rounding",
            "period_start",
            "period_end",
            "contract_version",
            "tax_percent",
            "reverse_charge",
        ]


class TaxRateSerializer(serializers.Serializer):
    """Net and tax at one rate of an invoice (reverse charge: no tax, the client's VAT id)."""

    percent = serializers.DecimalField(max_digits=5, decimal_places=2, read_only=True)
    # Already in the currency's smallest unit (``Invoice.tax_rates``): written as they are.
    net = serializers.DecimalField(max_digits=None, decimal_places=None, read_only=True)
    tax = serializers.DecimalField(max_digits=None, decimal_places=None, read_only=True)
    reverse_charge = serializers.BooleanField(read_only=True)
    client_vat_id = serializers.CharField(read_only=True)


class InvoiceSerializer(serializers.ModelSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)
    taxes = TaxRateSerializer(many=True, read_only=True, source="tax_rates")
    subtotal = MoneyField()
    tax = MoneyField()
    total = MoneyField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "period_start",
            "period_end",
            "state",
            "currency",
            "contract_reference",
            "subtotal",
            "tax_percent",
            "taxes",
            "tax",
            "total",
            "issued_at",
            "paid_at",
            "pdf_sha256",
            "lines",
        ]


class ScriptSerializer(serializers.ModelSerializer):
    versions = serializers.SerializerMethodField()

    class Meta:
        model = Script
        fields = ["id", "name", "purpose", "created_at", "versions"]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_versions(self, script: Script) -> list[dict[str, object]]:
        return [
            {"number": v.number, "state": v.state, "digest": v.digest, "graph": v.graph}
            for v in script.versions.order_by("number")
        ]


class ErrorSerializer(serializers.Serializer):
    """An error answer: what went wrong, in words."""

    detail = serializers.CharField()


# A 400 names each refused query parameter with its messages.
VALIDATION_ERROR = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"started_after": ["Enter a valid date/time."]},
}
