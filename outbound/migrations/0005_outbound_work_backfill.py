"""The dialer's index (``telephony.OutboundWork``, public) filled with each company's work in hand:
its running campaigns' queues and its open callbacks' queues (issue 23). Runs in each company's
schema; the template schema (no company) has none."""

from django.db import connection, migrations
from django.utils import timezone


def backfill(apps, schema_editor):
    Client = apps.get_model("tenants", "Client")
    tenant = Client.objects.filter(schema_name=connection.schema_name).first()
    if tenant is None:
        return
    Campaign = apps.get_model("outbound", "Campaign")
    Callback = apps.get_model("calls", "Callback")
    Queue = apps.get_model("telephony", "Queue")
    OutboundWork = apps.get_model("telephony", "OutboundWork")
    now = timezone.now()
    queues = set(Campaign.objects.filter(state="running").values_list("queue_id", flat=True))
    open_callbacks = set(Callback.objects.filter(state="open").values_list("queue_id", flat=True))
    if None in open_callbacks:
        default = Queue.objects.filter(tenant_id=tenant.pk, is_default=True).values_list("pk", flat=True).first()
        open_callbacks.discard(None)
        if default is not None:
            open_callbacks.add(default)
    known = set(Queue.objects.filter(tenant_id=tenant.pk).values_list("pk", flat=True))
    for queue_id in (queues | open_callbacks) & known:
        OutboundWork.objects.update_or_create(
            queue_id=queue_id, defaults={"tenant_id": tenant.pk, "due_at": now, "marked_at": now}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("outbound", "0004_campaign_pause_reason"),
        ("telephony", "0017_outbound_work"),
        ("calls", "0009_scheduled_settings"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
