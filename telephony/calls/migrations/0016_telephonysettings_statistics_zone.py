from django.db import migrations, models


def built_in_the_zone_of_now(apps, schema_editor):
    """Until now every change of zone rebuilt the statistics when it was saved: the rows are taken
    to be in the company's zone as it is. (A rebuild lost before this migration is not found: save
    the zone again, or run ``reporting.tasks.rebuild_statistics`` in the company.)"""
    TelephonySettings = apps.get_model("calls", "TelephonySettings")
    TelephonySettings.objects.update(statistics_zone=models.F("timezone"))


class Migration(migrations.Migration):
    dependencies = [("calls", "0015_link_dialer_tries")]

    operations = [
        migrations.AddField(
            model_name="telephonysettings",
            name="statistics_zone",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text="The zone the statistics rows were last built in (empty: none built yet). Another "
                "zone than ``timezone``: the next build rebuilds them all (``reporting.stats``).",
                max_length=64,
            ),
        ),
        migrations.RunPython(built_in_the_zone_of_now, migrations.RunPython.noop),
    ]
