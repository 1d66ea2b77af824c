from django.core.management.base import BaseCommand, CommandError

from automation.engine.plans import document_dump, plan_export
from automation.models import Plan, PlanRevision


class Command(BaseCommand):
    help = (
        "Print a plan in the smsjourney.plan/1 format (docs/reference.md §6): its latest revision, "
        "or --revision N."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--revision", type=int, default=None, help="The revision's number.")

    def handle(self, *args, slug: str, revision: int | None, **options):
        plan = Plan.objects.filter(slug=slug).first()
        if plan is None:
            raise CommandError(f"There is no plan {slug!r}.")
        try:
            document = plan_export(plan=plan, number=revision)
        except PlanRevision.DoesNotExist as exc:
            which = f"revision {revision}" if revision is not None else "any revision"
            raise CommandError(f"{slug} has no {which}.") from exc
        self.stdout.write(document_dump(document), ending="")
