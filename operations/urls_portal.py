"""Service settings of a client company's portal, under /service/, and its callbacks, /callbacks/."""

from django.urls import path

from operations import certification_views, portal_views

callback_urls = [path("", portal_views.callback_list, name="portal_callbacks")]

urlpatterns = [
    path("", portal_views.service_settings, name="service_settings"),
    path("certification/", certification_views.portal_quiz, name="service_certification"),
    path("specialists/", portal_views.specialist_save, name="service_specialist"),
    path("hold-music/", portal_views.hold_music_upload, name="service_hold_music_upload"),
    path("hold-music/<str:token>.<str:extension>", portal_views.hold_music_file, name="service_hold_music"),
    path("specialists/<str:key>/remove/", portal_views.specialist_remove, name="service_specialist_remove"),
]
