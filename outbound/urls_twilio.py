"""Outbound calls' Twilio webhooks, mounted at /twilio/voice/outbound/ on the platform host."""

from django.urls import path

from outbound import webhooks

urlpatterns = [
    path("answer", webhooks.answer, name="outbound-answer"),
    path("status", webhooks.status, name="outbound-status"),
    path("dial-result", webhooks.dial_result, name="outbound-dial-result"),
]
