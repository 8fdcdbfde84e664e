"""Django admin (platform host) for the catalogue and the onboarding records."""

from django.contrib import admin

from tenants.models import AuditEvent, Contract, ContractVersion, Order, Service, Tariff


class TariffInline(admin.TabularInline):
    model = Tariff
    extra = 0


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "is_active", "position")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "code")
    inlines = [TariffInline]


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ("service", "valid_from", "currency", "monthly_fee", "per_minute", "per_call", "rounding")
    list_filter = ("currency", "rounding")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("pk", "legal_name", "state", "contact_email", "created_at")
    list_filter = ("state",)
    search_fields = ("legal_name", "contact_email", "portal_slug")
    readonly_fields = ("token", "state", "client", "submitted_ip")


class ContractVersionInline(admin.TabularInline):
    model = ContractVersion
    fields = ("number", "state", "created_by_name", "sent_at", "pdf_sha256")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ("reference", "order", "client", "state")
    list_filter = ("state",)
    readonly_fields = ("order", "client", "state", "in_force")
    inlines = [ContractVersionInline]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_name", "action", "object_type", "object_id", "client")
    list_filter = ("action", "object_type")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
