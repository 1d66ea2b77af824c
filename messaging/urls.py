"""URLs of the messaging app (included from smsjourney.urls)."""

urlpatterns: list = []
