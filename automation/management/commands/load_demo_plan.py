from django.core.management.base import BaseCommand, CommandError

from automation.engine.demo_plan import plan_load_demo_with_summary
from automation.flow import FlowInvalid


class Command(BaseCommand):
    help = "Create or update (idempotent) the active demo plan `quote-and-buy` (docs/reference.md §4)."

    def handle(self, *args, **options):
        try:
            result = plan_load_demo_with_summary()
        except FlowInvalid as exc:  # never expected: the demo document is part of the code
            raise CommandError(str(exc)) from exc
        plan = result.plan
        changes = f"revision {result.revision} published" if result.revision else "unchanged"
        if result.activated:
            changes += ", activated"
        self.stdout.write(
            f"Demo plan “{plan.name}” ({plan.slug}): {plan.status}, "
            f"revision {plan.published.number} — {changes}."
        )
