"""URLs of the automation app (included from smsjourney.urls)."""

urlpatterns: list = []
