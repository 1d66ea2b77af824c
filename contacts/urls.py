"""URLs of the contacts app (included from smsjourney.urls)."""

urlpatterns: list = []
