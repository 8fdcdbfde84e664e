"""Django admin (platform host) for the number pool, queues, operators' skills and the live routing state."""

from django.contrib import admin

from telephony.models import (
    OperatorProfile,
    PhoneNumber,
    Queue,
    Reservation,
    Skill,
    UnservedCall,
    WaitingCall,
)


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    list_display = ("number", "state", "tenant", "assigned_at", "release_after")
    list_filter = ("state",)
    search_fields = ("number", "tenant__name", "tenant__slug")
    readonly_fields = ("tenant", "state", "assigned_at", "released_at", "release_after")


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "is_default", "ring_timeout", "overflow_after", "max_wait")
    list_filter = ("is_default",)
    search_fields = ("name", "tenant__name")
    fieldsets = (
        (None, {"fields": ("tenant", "name", "is_default")}),
        (
            "Routing",
            {
                "fields": (
                    "ring_timeout",
                    "overflow_after",
                    "overflow_queue",
                    "max_wait",
                    "max_length",
                    "service_level_seconds",
                )
            },
        ),
        (
            "Contract terms",
            {
                "fields": ("sl_target_percent", "reserved_seats", "max_seats", "max_share_percent"),
                "description": "Provisioned from the client's contract (and again at each acceptance); the "
                "router shares the pool by them when operators are short.",
            },
        ),
        (
            "Wallboard alerts",
            {
                "fields": (
                    "alert_wait_seconds",
                    "alert_waiting_calls",
                    "alert_service_level",
                    "alert_abandon_rate",
                ),
                "description": "The wallboard flags the queue past these; blank turns one off.",
            },
        ),
    )


class SkillInline(admin.TabularInline):
    model = Skill
    extra = 1
    autocomplete_fields = ("queue",)


@admin.register(OperatorProfile)
class OperatorProfileAdmin(admin.ModelAdmin):
    """Skills are edited here; the state is the router's (read-only)."""

    list_display = ("user", "state", "break_reason", "state_since", "missed_offers", "consoles")
    list_filter = ("state",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    readonly_fields = ("state", "break_reason", "state_since", "idle_since", "missed_offers", "consoles")
    inlines = [SkillInline]


@admin.register(WaitingCall)
class WaitingCallAdmin(admin.ModelAdmin):
    list_display = ("call_sid", "tenant", "queue", "state", "priority", "enqueued_at", "reservation_count")
    list_filter = ("state",)
    search_fields = ("call_sid",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ("call", "operator", "state", "offered_at", "expires_at", "reason")
    list_filter = ("state",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UnservedCall)
class UnservedCallAdmin(admin.ModelAdmin):
    list_display = ("at", "from_number", "to_number", "call_sid")
    search_fields = ("to_number", "from_number", "call_sid")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
