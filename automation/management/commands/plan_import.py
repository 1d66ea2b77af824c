import sys

from django.core.management.base import BaseCommand, CommandError

from automation.engine.plans import document_load, plan_import, plan_warnings
from automation.flow import FlowInvalid


class Command(BaseCommand):
    help = (
        "Import a plan in the smsjourney.plan/1 format (docs/reference.md §6) from PATH (- for standard "
        "input): create it, or a new revision when its content differs; publish unless --draft."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="A JSON file, or - for standard input.")
        parser.add_argument("--draft", action="store_true", help="Keep the new revision as the draft.")
        parser.add_argument(
            "--warnings",
            action="store_true",
            help="Also print what may be a mistake in the plan (as the admin shows it), on standard error.",
        )

    def handle(self, *args, path: str, draft: bool, warnings: bool = False, **options):
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: cannot be read ({exc}).") from exc
        try:
            result = plan_import(document=document_load(text), draft=draft)
        except FlowInvalid as exc:
            # docs/reference.md §4: one line per problem on standard error, exit 1, nothing changed.
            for problem in exc.problems:
                self.stderr.write(str(problem))
            sys.exit(1)
        if result.revision is None:
            self.stdout.write("unchanged")
            return
        self.stdout.write(f"Imported {result.plan.slug} revision {result.revision.number}")
        if warnings:  # what may be a mistake (the plan is imported all the same)
            for warning in plan_warnings(plan=result.plan, document=result.revision.document):
                self.stderr.write(f"warning: {warning}")
