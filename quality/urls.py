"""Quality scoring on the platform host (mounted at /quality/): supervisors and platform admins;
operators read their own scores at my/scores/ (no company pattern has that shape)."""

from django.urls import path

from quality import views

urlpatterns = [
    path("", views.companies, name="quality_companies"),
    path("my/scores/", views.my_scores, name="quality_my_scores"),
    path("<slug:slug>/", views.recordings, name="quality_recordings"),
    path("<slug:slug>/calls/<int:call_id>/", views.score, name="quality_score"),
    path("<slug:slug>/calls/<int:call_id>/audio", views.audio, name="quality_audio"),
    path("<slug:slug>/scorecard/", views.scorecard, name="quality_scorecard"),
    path("<slug:slug>/operators/", views.operators, name="quality_operators"),
]
