"""Live supervision from the wallboard, mounted at /wallboard/supervision/ on the platform host."""

from django.urls import path

from console import supervision_views as views

urlpatterns = [
    path("", views.state, name="supervision-state"),
    path("calls/<int:call_id>", views.monitor, name="supervision-monitor"),
    path("leave", views.leave, name="supervision-leave"),
    path("phone", views.phone, name="supervision-phone"),
    path("token", views.token, name="supervision-token"),
]
