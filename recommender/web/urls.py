"""The public site: daily listing, trending, search, paper pages, account pages."""

from django.urls import path

from . import views

app_name = "web"
urlpatterns = [
    path("", views.daily, name="daily"),
]
