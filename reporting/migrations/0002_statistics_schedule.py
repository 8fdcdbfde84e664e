"""Beat runs the statistics dispatcher every 15 minutes.

reporting is a tenant app, so this runs in each tenant schema; django_celery_beat's tables live in
public only and resolve there through the search path, and ``get_or_create`` makes the repeats no-ops.
"""

from django.db import migrations


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Build statistics", defaults={"task": "reporting.tasks.dispatch_statistics", "interval": every}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, migrations.RunPython.noop)]
