"""Script review in the back office (platform host), mounted under /backoffice/scripts/."""

from django.urls import path

from scripts_engine.views import backoffice

urlpatterns = [
    path("", backoffice.submitted, name="bo_scripts"),
    path("<slug:slug>/<int:pk>/", backoffice.review, name="bo_script_review"),
    path("<slug:slug>/<int:pk>/decide/", backoffice.decide, name="bo_script_decide"),
]
