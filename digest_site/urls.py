"""URL map: public site, accounts (allauth), digest links, admin, dev outbox."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from recommender.admin.dashboard import admin_dashboard

urlpatterns = [
    path("admin/dashboard/", admin_dashboard, name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("recommender.digest.urls")),
    path("", include("recommender.web.urls")),
]

if settings.DEBUG:
    urlpatterns += [path("outbox/", include("recommender.mail.urls"))]
