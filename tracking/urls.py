"""URLs of the tracking app (included from smsjourney.urls)."""

urlpatterns: list = []
