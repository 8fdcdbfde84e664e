"""The operator console, mounted at /console/ on the platform host."""

from django.urls import path

from console import certification, recording_views, views

urlpatterns = [
    path("", views.page, name="console"),
    path("state", views.state, name="console-state"),
    path("certification/", certification.certifications, name="console-certifications"),
    path("certification/<slug:slug>/", certification.take, name="console-certification"),
    path("token", views.token, name="console-token"),
    path("offers/<int:reservation_id>", views.offer, name="console-offer"),
    path("calls/<int:reservation_id>", views.call, name="console-call"),
    path("calls/<int:reservation_id>/script", views.script, name="console-script"),
    path("calls/<int:reservation_id>/transfer", views.transfer, name="console-transfer"),
    path("calls/<int:reservation_id>/hang-up", views.hang_up, name="console-hang-up"),
    path("calls/<int:reservation_id>/wrap-up", views.wrap_up, name="console-wrap-up"),
    path("calls/<int:reservation_id>/dial", views.dial, name="console-dial"),
    path("calls/<int:reservation_id>/skip", views.skip, name="console-skip"),
    path("calls/<int:reservation_id>/opt-out", views.opt_out, name="console-opt-out"),
    path("calls/<int:reservation_id>/hold", views.hold, name="console-hold"),
    path("calls/<int:reservation_id>/mute", views.mute, name="console-mute"),
    path(
        "calls/<int:reservation_id>/recording", recording_views.operator_recording, name="console-recording"
    ),
    path(
        "supervise/<slug:slug>/calls/<str:call_sid>/recording",
        recording_views.supervisor_recording,
        name="console-supervisor-recording",
    ),
]
