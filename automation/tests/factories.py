from datetime import timedelta

import factory
from django.utils import timezone

from automation.models import Enrollment, Plan, PlanState, Transition
from contacts.tests.factories import ContactFactory


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    name = factory.Sequence(lambda n: f"Plan {n}")
    slug = factory.Sequence(lambda n: f"plan-{n}")
    entry_trigger = Plan.EntryTrigger.ANY


class PlanStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanState

    plan = factory.SubFactory(PlanFactory)
    name = factory.Sequence(lambda n: f"State {n}")


class TransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transition

    from_state = factory.SubFactory(PlanStateFactory)
    plan = factory.SelfAttribute("from_state.plan")
    to_state = factory.SubFactory(PlanStateFactory, plan=factory.SelfAttribute("..plan"))
    match = Transition.Match.KEYWORD
    pattern = "NEXT"


class EnrollmentFactory(factory.django.DjangoModelFactory):
    """A bare active enrollment row (no messages sent): use the services for real journeys."""

    class Meta:
        model = Enrollment

    contact = factory.SubFactory(ContactFactory)
    current_state = factory.SubFactory(PlanStateFactory, is_start=True)
    plan = factory.SelfAttribute("current_state.plan")
    enrolled_at = factory.LazyFunction(timezone.now)
    state_entered_at = factory.LazyAttribute(lambda o: o.enrolled_at)
    expires_at = factory.LazyAttribute(lambda o: o.enrolled_at + timedelta(days=7))
