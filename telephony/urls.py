"""Twilio's voice webhooks, mounted at /twilio/voice/ on the platform host."""

from django.urls import include, path

from telephony import callback_webhooks, conference_webhooks, webhooks

PREFIX = "/twilio/voice/"  # where config/urls_public.py mounts these

# The webhooks someone on the line waits on in silence, answered with TwiML; the first of them,
# ``incoming``, makes the call's offer. A deployment may serve them on processes of their own
# ("voice": ``manage.py run --voice-port``, docs/scale.md §4), where they never queue behind the
# consoles' sockets or the callbacks nobody waits for.
CALLER_WAITS = (
    "incoming", "gather", "wait", "wait-key", "queue-result", "leave-choice", "callback-number",
    "callback/answer", "voicemail", "dial-result", "outbound/answer", "outbound/dial-result",
)  # fmt: skip
# Twilio's callbacks nobody waits on (answered 204: status, conference events, recordings), which
# a deployment may serve on processes of their own too ("hooks": ``manage.py run --hooks-port``).
# Not the fallback: Twilio asks for it when the voice webhook failed, so it stays on the web, away
# from the processes that may have failed.
CALLBACKS = (
    "status", "recording", "conference", "conference-leg", "conference-recording", "callback/status",
    "outbound/status",
)  # fmt: skip


def caller_wait_paths() -> list[str]:
    """``CALLER_WAITS`` as the paths a proxy routes to the voice processes."""
    return [PREFIX + route for route in CALLER_WAITS]


def callback_paths() -> list[str]:
    """``CALLBACKS`` as the paths a proxy routes to the hooks processes."""
    return [PREFIX + route for route in CALLBACKS]


urlpatterns = [
    path("incoming", webhooks.incoming, name="twilio-incoming"),
    path("status", webhooks.status, name="twilio-status"),
    path("gather", webhooks.gather, name="twilio-gather"),
    path("wait", webhooks.wait, name="twilio-wait"),
    path("wait-key", webhooks.wait_key, name="twilio-wait-key"),
    path("queue-result", webhooks.queue_result, name="twilio-queue-result"),
    path("leave-choice", webhooks.leave_choice, name="twilio-leave-choice"),
    path("callback-number", webhooks.callback_number, name="twilio-callback-number"),
    path("callback/answer", callback_webhooks.answer, name="twilio-callback-answer"),
    path("callback/status", callback_webhooks.status, name="twilio-callback-status"),
    path("voicemail", webhooks.voicemail, name="twilio-voicemail"),
    path("recording", webhooks.recording, name="twilio-recording"),
    path("dial-result", webhooks.dial_result, name="twilio-dial-result"),
    path("conference", conference_webhooks.conference_status, name="twilio-conference"),
    path("conference-leg", conference_webhooks.leg_status, name="twilio-conference-leg"),
    path("conference-recording", conference_webhooks.recording, name="twilio-conference-recording"),
    path("fallback", webhooks.fallback, name="twilio-fallback"),
    path("fallback-done", webhooks.fallback_done, name="twilio-fallback-done"),
    path("outbound/", include("outbound.urls_twilio")),
]
