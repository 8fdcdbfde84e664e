"""Statistics: waits of answered calls in exact milliseconds, handling time per direction."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reporting", "0008_invoice_taxes_line_periods")]

    operations = [
        migrations.RenameField("statistic", "wait_answered_seconds", "wait_answered_ms"),
        # Rows built before are whole seconds; the next build replaces them with exact figures.
        migrations.RunSQL(
            "UPDATE reporting_statistic SET wait_answered_ms = wait_answered_ms * 1000",
            "UPDATE reporting_statistic SET wait_answered_ms = wait_answered_ms / 1000",
        ),
        migrations.AlterField(
            model_name="statistic",
            name="wait_answered_ms",
            field=models.BigIntegerField(default=0, help_text="Exact waits of answered calls, in ms."),
        ),
        migrations.AddField("statistic", "inbound_handled", models.PositiveIntegerField(default=0)),
        migrations.AddField("statistic", "inbound_handle_seconds", models.BigIntegerField(default=0)),
        migrations.AddField("statistic", "outbound_handle_seconds", models.BigIntegerField(default=0)),
    ]
