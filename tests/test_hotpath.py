"""smsjourney.hotpath writes the rows save() would write, and falls back to save() when a
shortcut could differ from it."""

from datetime import UTC, datetime

import pytest
from django.db import DatabaseError
from django.db.models.signals import post_save
from django.forms.models import model_to_dict

from contacts.models import Contact
from smsjourney.hotpath import instance_insert, instance_update
from tracking.models import Interaction

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)


def test_an_insert_writes_what_save_writes():
    by_orm = Contact.objects.create(phone="+12125550101", last_inbound_at=WHEN)
    by_hotpath = instance_insert(Contact(phone="+12125550102", last_inbound_at=WHEN))
    assert by_hotpath.pk and not by_hotpath._state.adding
    orm_row, hot_row = (model_to_dict(Contact.objects.get(pk=c.pk)) for c in (by_orm, by_hotpath))
    for row in (orm_row, hot_row):
        row.pop("id"), row.pop("phone")
    assert orm_row == hot_row  # defaults (attributes={}, opted_out=False, …) and all
    stored = Contact.objects.get(pk=by_hotpath.pk)
    assert stored.created_at is not None and stored.updated_at is not None  # auto_now(_add)
    assert stored.last_inbound_at == WHEN


def test_json_choices_and_foreign_keys_are_prepared_like_save():
    contact = instance_insert(Contact(phone="+12125550103"))
    interaction = instance_insert(
        Interaction(
            contact=contact,
            direction=Interaction.Direction.INBOUND,
            body="hé \U0001f600",
            media_urls=["https://example.com/a.jpg"],
            raw_payload={"Body": "hé", "NumMedia": "1"},
            created_at=WHEN,
        )
    )
    stored = Interaction.objects.get(pk=interaction.pk)
    assert (stored.contact_id, stored.direction, stored.body) == (contact.pk, "inbound", "hé \U0001f600")
    assert stored.media_urls == ["https://example.com/a.jpg"]
    assert stored.raw_payload == {"Body": "hé", "NumMedia": "1"}
    assert stored.provider_sid is None and stored.created_at == WHEN


def test_an_update_writes_only_the_fields_named_and_refuses_a_missing_row():
    contact = instance_insert(Contact(phone="+12125550104", first_name="Ann"))
    contact.first_name, contact.last_name = "Bea", "Unsaved"
    instance_update(contact, fields=["first_name"])
    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.first_name, stored.last_name) == ("Bea", "")
    Contact.objects.filter(pk=contact.pk).delete()
    with pytest.raises(DatabaseError):
        instance_update(contact, fields=["first_name"])


def test_a_model_with_a_save_receiver_is_saved_by_save():
    heard = []

    def receiver(sender, instance, created, **kwargs):
        heard.append((instance.phone, created))

    post_save.connect(receiver, sender=Contact)
    try:
        contact = instance_insert(Contact(phone="+12125550105"))
        instance_update(contact, fields=["first_name"])
    finally:
        post_save.disconnect(receiver, sender=Contact)
    assert heard == [("+12125550105", True), ("+12125550105", False)]
