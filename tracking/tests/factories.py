import factory
from django.utils import timezone

from contacts.tests.factories import ContactFactory
from tracking.models import Goal, Interaction


class GoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Goal

    name = factory.Sequence(lambda n: f"Goal {n}")
    slug = factory.Sequence(lambda n: f"goal-{n}")
    points = 10


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    contact = factory.SubFactory(ContactFactory)
    direction = Interaction.Direction.INBOUND
    body = "Hello"
    provider_sid = factory.Sequence(lambda n: f"SM{n:032x}")
    created_at = factory.LazyFunction(timezone.now)
    # History: an inbound message made here was routed when it came.
    routed_at = factory.LazyAttribute(lambda o: o.created_at if o.direction == "inbound" else None)
