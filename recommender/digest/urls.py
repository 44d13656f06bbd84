"""Links that appear in digest emails: unsubscribe, feedback, clicks, preview; ESP webhooks."""

from django.urls import include, path

from . import followup_views, views
from .webhooks import esp_webhook_patterns

app_name = "digest"
urlpatterns = [
    path("d/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("d/feedback/<str:token>/", views.feedback, name="feedback"),
    path("d/click/<str:token>/", views.click, name="click"),
    # One token per email; the paper (checked against the delivery) and the link name or kind in the path.
    path("d/c/<str:token>/<int:paper_id>/<str:link>/", views.click_in_delivery, name="click_paper"),
    path("d/f/<str:token>/<int:paper_id>/<str:kind>/", views.feedback_in_delivery, name="feedback_paper"),
    path("d/stop/<str:token>/", followup_views.stop_updates, name="stop_updates"),
    path("d/preview/", views.preview_mine, name="preview"),
    path("d/preview/<int:user_id>/", views.preview_user, name="preview_user"),
    path("d/preview/link/", views.preview_link, name="preview_link"),
    # django-anymail's tracking webhooks (bounces, complaints) -> suppression; malformed requests are 4xx.
    path("anymail/", include(esp_webhook_patterns())),
]
