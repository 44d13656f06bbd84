"""Paperboy's Django admin: everything an operator needs without a shell.

One module per area registers its ``ModelAdmin`` classes on the default
admin site; importing this package (Django's admin autodiscovery imports
``recommender.admin``) registers them all. Admin code stays thin: actions
call the same services and Celery tasks as the rest of the service, show a
confirmation page before anything that sends email or retrains, and record
what was done in Django's admin log.
"""

from django.contrib import admin

from . import (  # noqa: F401 - imported for their registrations
    dashboard,
    deliveries,
    ingest_runs,
    interactions,
    llm_usage,
    models_versions,
    papers,
    schedules,
    subscribers,
)

admin.site.site_header = "Paperboy administration"
admin.site.site_title = "Paperboy admin"
admin.site.index_title = "Run the service"
# The collapsible model list beside every page took 280 of 1280 px and squeezed the lists' columns
# (issue 18): the breadcrumbs and the index page lead everywhere it did.
admin.site.enable_nav_sidebar = False
