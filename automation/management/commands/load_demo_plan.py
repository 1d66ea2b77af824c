from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from automation.services.demo_plan import plan_load_demo_with_summary


class Command(BaseCommand):
    help = "Create or update (idempotent) the active demo plan `quote-and-buy` (CONTRACT §4)."

    def handle(self, *args, **options):
        try:
            result = plan_load_demo_with_summary()
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        plan = result.plan
        changes = (
            "unchanged"
            if not (result.created or result.updated or result.deleted)
            else f"{result.created} created, {result.updated} updated, {result.deleted} deleted"
        )
        self.stdout.write(
            f"Demo plan “{plan.name}” ({plan.slug}): {plan.status}, "
            f"{plan.states.count()} states, {plan.transitions.count()} transitions — {changes}."
        )
