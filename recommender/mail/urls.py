from django.urls import path

from . import views

app_name = "outbox"
urlpatterns = [
    path("", views.outbox_list, name="list"),
    path("<str:name>/", views.outbox_detail, name="detail"),
    path("<str:name>/html/", views.outbox_html, name="html"),
]
