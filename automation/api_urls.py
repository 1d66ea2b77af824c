"""The API's URLs (included from smsjourney.urls under ``api/``): the contact API (CONTRACT
§3) and events (§7)."""

from django.urls import path

from automation.contact_apis import ContactDetailApi, ContactListApi, ContactMessagesApi
from automation.event_apis import EventCreateApi

urlpatterns = [
    path("contacts/", ContactListApi.as_view(), name="contact-list"),
    path("contacts/<int:contact_id>/", ContactDetailApi.as_view(), name="contact-detail"),
    path("contacts/<int:contact_id>/messages/", ContactMessagesApi.as_view(), name="contact-messages"),
    path("events/", EventCreateApi.as_view(), name="event-create"),
]
