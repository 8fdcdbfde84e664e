"""Beat runs the evidence purge dispatcher once a day (see 0002 for why this runs per schema)."""

from django.db import migrations


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period="days")
    PeriodicTask.objects.get_or_create(
        name="Purge webhook evidence past the contract's retention",
        defaults={"task": "reporting.tasks.dispatch_evidence_purge", "interval": every},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0009_statistic_exact_waits_aht_per_direction"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, migrations.RunPython.noop)]
