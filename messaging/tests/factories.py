import factory

from contacts.tests.factories import ContactFactory
from messaging.models import OutboundMessage
from tracking.models import Interaction
from tracking.tests.factories import InteractionFactory


class OutboundMessageFactory(factory.django.DjangoModelFactory):
    """A text to a contact as the services keep one: the outbound interaction (what it says,
    set with ``interaction__body=…``; no provider sid until sent) and the row that sends it
    (a queued prompt unless told)."""

    class Meta:
        model = OutboundMessage

    contact = factory.SubFactory(ContactFactory)
    interaction = factory.SubFactory(
        InteractionFactory,
        contact=factory.SelfAttribute("..contact"),
        direction=Interaction.Direction.OUTBOUND,
        provider_sid=None,
    )
    purpose = OutboundMessage.Purpose.PROMPT
    to_number = factory.LazyAttribute(lambda o: o.contact.phone)
