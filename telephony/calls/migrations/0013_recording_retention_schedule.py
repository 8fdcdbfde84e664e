"""Beat runs the recording retention dispatcher once a day (see reporting 0002 for why this runs per
schema: django_celery_beat's tables live in public, ``get_or_create`` makes the repeats no-ops)."""

from django.db import migrations


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period="days")
    PeriodicTask.objects.get_or_create(
        name="Delete recordings past the contract's retention",
        defaults={"task": "telephony.tasks.dispatch_recording_retention", "interval": every},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0012_recording_access"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, migrations.RunPython.noop)]
