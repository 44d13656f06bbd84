"""Links that appear in digest emails: unsubscribe, feedback, clicks, preview; ESP webhooks."""

from django.urls import include, path

from . import views

app_name = "digest"
urlpatterns = [
    path("d/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("d/feedback/<str:token>/", views.feedback, name="feedback"),
    path("d/click/<str:token>/", views.click, name="click"),
    path("d/preview/", views.preview_mine, name="preview"),
    path("d/preview/<int:user_id>/", views.preview_user, name="preview_user"),
    # django-anymail's tracking webhooks (bounces, complaints) -> suppression.
    path("anymail/", include("anymail.urls")),
]
