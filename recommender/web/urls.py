"""The public site: daily listing, trending, search, paper pages, personal pages and account pages."""

from django.urls import path, register_converter

from ..arxiv_ids import ArxivIdConverter, ArxivVersionedIdConverter
from . import digests, feeds, library, pause, resume, submit, topics, views

# Both identifier schemes, 2403.02233 and hep-th/9901001 (a slash that <str:> cannot match).
register_converter(ArxivIdConverter, "arxiv_id")
register_converter(ArxivVersionedIdConverter, "arxiv_versioned_id")

app_name = "web"
urlpatterns = [
    path("", views.daily, name="daily"),
    path("trending/", views.trending_view, name="trending"),
    path("search/", views.search_view, name="search"),
    path("papers/<arxiv_id:arxiv_id>/", views.paper_detail, name="paper"),
    path("papers/<arxiv_id:arxiv_id>/act/", views.paper_act, name="act"),
    path("papers/<arxiv_versioned_id:versioned>/", views.paper_versioned, name="paper_versioned"),
    path("for-you/", views.for_you, name="for_you"),
    path("for-you/<slug:slug>/", views.for_you, name="for_you_topic"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("welcome/", views.onboarding, name="onboarding"),
    path("welcome/rate/", views.onboarding_rate, name="onboarding_rate"),
    path("account/preferences/", views.preferences, name="preferences"),
    path("account/topics/", topics.topics_page, name="topics"),
    path("account/topics/<slug:slug>/", topics.topic_edit, name="topic"),
    path("account/topics/<slug:slug>/delete/", topics.topic_delete_view, name="topic_delete"),
    path("account/topics/<slug:slug>/preview/", topics.topic_preview, name="topic_preview"),
    path("account/resume/", resume.resume, name="resume"),
    path("account/resume/<str:token>/", resume.resume_confirm, name="resume_confirm"),
    path("account/digests/", digests.my_digests, name="my_digests"),
    path("account/digests/<int:delivery_id>/", digests.my_digest, name="my_digest"),
    path("account/pause/", pause.pause, name="pause"),
    path("account/submit/", submit.submit, name="submit"),
    path("account/unpause/", pause.unpause, name="unpause"),
    path("account/feed-token/", views.feed_token_regenerate, name="feed_token"),
    path("account/reset/", views.recommendations_reset, name="reset"),
    path("account/export.csv", views.ratings_export, {"fmt": "csv"}, name="export_csv"),
    path("account/export.json", views.ratings_export, {"fmt": "json"}, name="export_json"),
    path("account/delete/", views.account_delete, name="delete"),
    path("account/import/", library.library_import_view, name="library_import"),
    path("account/import/mine/", library.library_mine_view, name="library_mine"),
    path("feed/<str:token>/atom.xml", feeds.personal_feed, name="feed"),
    path("feed/<str:token>/<slug:slug>/atom.xml", feeds.personal_feed, name="topic_feed"),
]
