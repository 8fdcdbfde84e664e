"""``/api/v1/campaigns/``: the campaigns, read-only, with their results (scope read_reports)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from outbound.models import Campaign
from outbound.results import campaign_results
from reporting.api.views import ApiView, cursor

CAMPAIGN_FIELDS = [
    "id",
    "name",
    "kind",
    "state",
    "mode",
    "script_id",
    "script_name",
    "queue_id",
    "queue_name",
    "caller_id",
    "starts_on",
    "ends_on",
    "window_start",
    "window_end",
    "window_days",
    "default_timezone",
    "max_attempts",
    "retry_busy_minutes",
    "retry_no_answer_minutes",
    "retry_machine_minutes",
    "retry_failed_minutes",
    "amd_enabled",
    "machine_action",
    "conversion_dispositions",
    "created_at",
    "started_at",
    "paused_at",
    "stopped_at",
    "completed_at",
]


class CampaignSerializer(serializers.ModelSerializer):
    # Plain strings: an enum named "kind"/"state" would collide with the invoices' in the schema.
    kind = serializers.CharField(read_only=True, help_text="survey or sales")
    state = serializers.CharField(read_only=True, help_text="draft, running, paused, stopped or completed")
    script_name = serializers.CharField(source="script.name", read_only=True)
    window_days = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    conversion_dispositions = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Campaign
        fields = CAMPAIGN_FIELDS
        read_only_fields = CAMPAIGN_FIELDS


class QuestionSerializer(serializers.Serializer):
    node = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(choices=["yes_no", "number", "choice"])
    answers = serializers.IntegerField()
    counts = serializers.ListField(child=serializers.DictField(), required=False)
    mean = serializers.FloatField(required=False)
    yes_share = serializers.FloatField(required=False, allow_null=True)


class ConversionSerializer(serializers.Serializer):
    dispositions = serializers.ListField(child=serializers.CharField())
    converted = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class ResultsSerializer(serializers.Serializer):
    contacts = serializers.IntegerField()
    contacts_by_state = serializers.DictField(child=serializers.IntegerField())
    reached = serializers.IntegerField()
    reach_rate = serializers.FloatField(allow_null=True)
    attempts = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    outcomes = serializers.DictField(child=serializers.IntegerField())
    conversion = ConversionSerializer(required=False, help_text="Sales campaigns.")
    questions = QuestionSerializer(many=True, required=False, help_text="Survey campaigns.")


class CampaignDetailSerializer(CampaignSerializer):
    results = serializers.SerializerMethodField()

    class Meta(CampaignSerializer.Meta):
        fields = [*CAMPAIGN_FIELDS, "results"]

    @extend_schema_field(ResultsSerializer)
    def get_results(self, campaign: Campaign) -> dict[str, Any]:
        return campaign_results(campaign)


class CampaignViewSet(ApiView):
    """Campaigns (list) and one campaign with its results: reached, attempts by outcome,
    conversion for sales, per-question aggregates for surveys."""

    queryset = Campaign.objects.select_related("script")
    filterset_fields = ["state", "kind"]
    pagination_class = cursor("-created_at", "-id")

    def get_serializer_class(self):
        if self.action == "retrieve":
            return CampaignDetailSerializer
        return CampaignSerializer
