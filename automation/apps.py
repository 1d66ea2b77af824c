from django.apps import AppConfig


class AutomationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "automation"

    def ready(self) -> None:
        # Lower apps hand work to automation's tasks by name (settings.OUTBOUND_SEND_TASK):
        # register them in every process (web, worker, commands), not only where a
        # worker's autodiscovery ran.
        from automation import tasks  # noqa: F401
