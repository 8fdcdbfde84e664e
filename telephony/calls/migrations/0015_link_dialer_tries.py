from django.db import migrations, models


def link_tries(apps, schema_editor):
    """The place-keeping tries (``callback_dial`` event, linked by 0014) are marked as such; the
    outbound dialer's calls for a booked callback are linked to it, as their ``outbound_task`` event
    named it (a callback deleted since: none)."""
    Call = apps.get_model("calls", "Call")
    Callback = apps.get_model("calls", "Callback")
    CallEvent = apps.get_model("calls", "CallEvent")
    Call.objects.filter(pk__in=CallEvent.objects.filter(kind="callback_dial").values("call_id")).update(
        place_keeping_try=True
    )
    named: dict[int, list[int]] = {}
    booked = CallEvent.objects.filter(kind="outbound_task", data__task="callback")
    for call_id, callback_id in booked.values_list("call_id", "data__callback"):
        if isinstance(callback_id, int):
            named.setdefault(callback_id, []).append(call_id)
    for callback_id in Callback.objects.filter(pk__in=list(named)).values_list("pk", flat=True):
        Call.objects.filter(pk__in=named[callback_id], try_of__isnull=True).update(try_of_id=callback_id)


class Migration(migrations.Migration):
    dependencies = [("calls", "0014_call_try_of")]

    operations = [
        migrations.AddField(
            model_name="call",
            name="place_keeping_try",
            field=models.BooleanField(
                default=False,
                help_text="A try of a callback that kept the caller's place (telephony.callback_dial), "
                "not a call of the outbound dialer.",
            ),
        ),
        migrations.RunPython(link_tries, migrations.RunPython.noop),
    ]
