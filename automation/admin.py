"""Django's admin autodiscovery imports `<app>.admin`: the cockpit's pages register there
(automation/cockpit/admin.py)."""

from automation.cockpit import admin  # noqa: F401
