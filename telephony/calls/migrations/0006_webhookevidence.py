"""The Twilio webhooks as received: the evidence behind every call record (issue 18)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("calls", "0005_call_placed_at")]

    operations = [
        migrations.CreateModel(
            name="WebhookEvidence",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("received_at", models.DateTimeField()),
                ("call_sid", models.CharField(blank=True, max_length=64)),
                ("url", models.TextField(help_text="The URL Twilio signed (query string included).")),
                ("params", models.JSONField(default=dict, help_text="Every POSTed parameter, as received.")),
                ("signature", models.CharField(help_text="X-Twilio-Signature, checked valid.", max_length=128)),
                (
                    "idempotency_key",
                    models.CharField(
                        help_text="Twilio's I-Twilio-Idempotency-Token, else a hash of URL and parameters.",
                        max_length=128,
                    ),
                ),
            ],
            options={
                "ordering": ["received_at", "pk"],
                "indexes": [
                    models.Index(fields=["call_sid", "received_at"], name="calls_webho_call_si_idx"),
                    models.Index(fields=["received_at"], name="calls_webho_receive_idx"),
                ],
                "constraints": [models.UniqueConstraint(fields=("idempotency_key",), name="webhook_evidence_once")],
            },
        ),
    ]
