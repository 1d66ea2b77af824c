from django.apps import AppConfig


class InfraConfig(AppConfig):
    """The shared infrastructure's own small tables (docs/architecture.md §4): the periodic
    jobs' last runs and the workers' heartbeats (``infra.jobs``)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "infra"
    verbose_name = "Operations"
