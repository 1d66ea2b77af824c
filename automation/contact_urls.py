"""URLs of the contacts app (included from smsjourney.urls under ``api/``)."""

from django.urls import path

from automation.contact_apis import ContactDetailApi, ContactListApi, ContactMessagesApi

urlpatterns = [
    path("contacts/", ContactListApi.as_view(), name="contact-list"),
    path("contacts/<int:contact_id>/", ContactDetailApi.as_view(), name="contact-detail"),
    path("contacts/<int:contact_id>/messages/", ContactMessagesApi.as_view(), name="contact-messages"),
]
