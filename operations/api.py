"""``/api/v1/callbacks/``: the company's callbacks with their tries (scope read_calls)."""

from __future__ import annotations

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from operations.callbacks import attempts_of
from reporting.api.views import ApiView, cursor
from reporting.keys import Scope
from telephony.calls.models import Callback


class AttemptSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    outcome = serializers.CharField(help_text="answered, busy, no_answer, failed, machine, canceled…")


class CallbackSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(read_only=True, help_text="requested, abandoned or after_hours")
    state = serializers.CharField(
        read_only=True,
        help_text="open, in_line (keeps the caller's place in the queue), dialing, done or cancelled",
    )
    is_due = serializers.SerializerMethodField()
    tries = serializers.SerializerMethodField()

    class Meta:
        model = Callback
        fields = ["id", "call_id", "phone", "reason", "state", "keeps_place", "queue_id", "priority",
                  "created_at", "due_at", "attempts", "is_due", "tries"]  # fmt: skip
        read_only_fields = fields

    def get_is_due(self, callback: Callback) -> bool:
        return callback.state == Callback.State.OPEN and callback.due_at <= self.context["now"]

    @extend_schema_field(AttemptSerializer(many=True))
    def get_tries(self, callback: Callback) -> list[dict[str, object]]:
        tries = self.context["tries"].get(callback.pk, [])
        return [{"at": t.at, "outcome": t.outcome} for t in tries]


class CallbackFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Callback.State.choices)

    class Meta:
        model = Callback
        fields = ["state"]


class CallbackViewSet(ApiView):
    queryset = Callback.objects.all()
    serializer_class = CallbackSerializer
    filterset_class = CallbackFilter
    pagination_class = cursor("-created_at", "-id")
    required_scope = Scope.READ_CALLS

    def get_serializer(self, *args: object, **kwargs: object) -> serializers.BaseSerializer:
        many = args[0] if args else []
        ids = [c.pk for c in (many if isinstance(many, list | tuple) else [many]) if isinstance(c, Callback)]
        kwargs["context"] = {
            **self.get_serializer_context(),
            "now": timezone.now(),
            "tries": attempts_of(ids),
        }
        return super().get_serializer(*args, **kwargs)
