"""URL map: public site, accounts (allauth), digest links, admin, dev outbox."""

from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from recommender.admin.dashboard import admin_dashboard
from recommender.web.health import healthz


def favicon(request):
    """Send /favicon.ico to the static icon (resolved per request: the manifest exists only after collectstatic)."""
    return redirect(static("favicon.svg"), permanent=True)


urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page says (the admin, feeds, plain files).
    path("favicon.ico", favicon),
    path("healthz", healthz, name="healthz"),  # database, cache and broker status (README, docs/deployment.md)
    path("admin/dashboard/", admin_dashboard, name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("recommender.digest.urls")),
    path("", include("recommender.web.urls")),
]

if settings.DEBUG:
    urlpatterns += [path("outbox/", include("recommender.mail.urls"))]
