"""Call recordings on a client company's own host (mounted at /recordings/): its staff only;
its access log."""

from django.urls import path

from quality import portal

urlpatterns = [
    path("", portal.recordings, name="portal_recordings"),
    path("<int:call_id>/audio", portal.audio, name="portal_recording_audio"),
    path("access-log/", portal.access_log, name="portal_recording_access"),
    path("access-log/export.<str:fmt>", portal.access_log_export, name="portal_recording_access_export"),
]
