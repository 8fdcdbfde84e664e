"""Django admin (platform host) for the number pool and queues."""

from django.contrib import admin

from telephony.models import PhoneNumber, Queue


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    list_display = ("number", "state", "tenant", "assigned_at", "release_after")
    list_filter = ("state",)
    search_fields = ("number", "tenant__name", "tenant__slug")
    readonly_fields = ("tenant", "state", "assigned_at", "released_at", "release_after")


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "is_default", "created_at")
    list_filter = ("is_default",)
