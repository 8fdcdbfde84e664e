"""Login, logout, password reset and choice: the same pages on the platform host and every tenant host."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.passwords import PasswordResetRequestView, PasswordResetSentView
from accounts.throttling import PasswordSetView

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", PasswordResetRequestView.as_view(), name="password_reset"),
    path("password-reset/sent/", PasswordResetSentView.as_view(), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/",
        PasswordSetView.as_view(),
        name="password_reset_confirm",
    ),
]
