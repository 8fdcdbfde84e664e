"""Beat runs the dialer's tick every 2 seconds (stale previews go back, free operators get work).

outbound is a tenant app, so this runs in each tenant schema; django_celery_beat's tables live in
public only and resolve there through the search path, and ``get_or_create`` makes the repeats no-ops.
"""

from django.db import migrations


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=2, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="Outbound dialer tick", defaults={"task": "outbound.tasks.dial_tick", "interval": every}
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name="Outbound dialer tick").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("outbound", "0002_contact_imports"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
