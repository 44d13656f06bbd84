"""Links that appear in digest emails: unsubscribe, feedback, clicks, preview."""

app_name = "digest"
urlpatterns: list = []
