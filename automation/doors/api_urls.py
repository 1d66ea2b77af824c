"""The API's URLs (included from smsjourney.urls under ``api/``): the contact API (docs/reference.md
§3) and events (§7)."""

from django.urls import path

from automation.doors.contact_api import ContactDetailApi, ContactListApi, ContactMessagesApi
from automation.doors.event_api import EventCreateApi

urlpatterns = [
    path("contacts/", ContactListApi.as_view(), name="contact-list"),
    path("contacts/<int:contact_id>/", ContactDetailApi.as_view(), name="contact-detail"),
    path("contacts/<int:contact_id>/messages/", ContactMessagesApi.as_view(), name="contact-messages"),
    path("events/", EventCreateApi.as_view(), name="event-create"),
]
