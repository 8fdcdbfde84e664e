"""Call recordings on a client company's own host (mounted at /recordings/): its staff only."""

from django.urls import path

from quality import portal

urlpatterns = [
    path("", portal.recordings, name="portal_recordings"),
    path("<int:call_id>/audio", portal.audio, name="portal_recording_audio"),
]
