"""Operations pages of the platform host, under /staff/operations/."""

from django.urls import path

from operations import certification_views, views

urlpatterns = [
    path("", views.operators, name="ops_operators"),
    path("operators/<int:pk>/", views.operator_detail, name="ops_operator"),
    path("operators/<int:pk>/languages/", views.operator_languages, name="ops_operator_languages"),
    path("operators/<int:pk>/skills/", views.operator_skill, name="ops_operator_skill"),
    path(
        "operators/<int:pk>/skills/<int:queue_pk>/remove/",
        views.operator_skill_remove,
        name="ops_operator_skill_remove",
    ),
    path("operators/<int:pk>/shifts/", views.operator_shift, name="ops_operator_shift"),
    path(
        "operators/<int:pk>/shifts/<int:shift_pk>/remove/",
        views.operator_shift_remove,
        name="ops_operator_shift_remove",
    ),
    path("companies/<int:pk>/", views.company_team, name="ops_company"),
    path("callbacks/", views.callback_board, name="ops_callbacks"),
    path("certifications/", certification_views.supervisor_board, name="ops_certifications"),
    path("certifications/<int:pk>/revoke/", certification_views.revoke, name="ops_certification_revoke"),
    path("companies/<int:pk>/certification/", certification_views.backoffice_quiz, name="ops_company_quiz"),
]
