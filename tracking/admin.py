from django.contrib import admin
from django.db.models import Count
from django.utils.text import Truncator

from infra.admin_mixins import ReadOnlyAdminMixin, test_contacts_filter
from tracking.models import Goal, GoalConversion, Interaction, TrackedLink


@admin.register(Goal)
class GoalAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "points", "conversion_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["name", "slug", "points", "description"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(conversion_count=Count("conversions"))

    @admin.display(description="Conversions", ordering="conversion_count")
    def conversion_count(self, obj: Goal) -> int:
        return obj.conversion_count


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "contact",
        "channel",
        "direction",
        "from_address",
        "to_address",
        "short_body",
        "provider_sid",
        "enrollment",
    ]
    # "Routed at: Empty" lists the inbound messages waiting for a worker (and every outbound
    # one); "Route failed at: Not empty" the ones given up after failed tries (a person looks).
    list_filter = [
        test_contacts_filter("contact__is_test"),
        "direction",
        "channel",
        "created_at",
        ("routed_at", admin.EmptyFieldListFilter),
        ("route_failed_at", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["contact", "enrollment__plan", "enrollment__contact"]
    search_fields = ["contact__phone", "provider_sid", "event_id", "body"]
    date_hierarchy = "created_at"
    raw_id_fields = ["contact", "enrollment"]
    fields = [
        "created_at",
        "contact",
        "channel",
        "direction",
        "from_address",
        "to_address",
        "body",
        "media",
        "provider_sid",
        "event_id",
        "posted_by",
        "value",
        "enrollment",
        "routed_at",
        "route_attempts",
        "route_failed_at",
        "route_error",
        "raw_payload",
    ]

    @admin.display(description="Body")
    def short_body(self, obj: Interaction) -> str:
        return Truncator(obj.body).chars(60)


@admin.register(GoalConversion)
class GoalConversionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "contact", "goal_name", "points", "enrollment"]
    list_filter = [test_contacts_filter("contact__is_test"), "goal", "occurred_at"]
    list_select_related = ["contact", "goal", "enrollment__plan", "enrollment__contact"]
    search_fields = ["contact__phone", "goal__name"]
    date_hierarchy = "occurred_at"
    fields = ["occurred_at", "contact", "goal", "points", "enrollment", "interaction"]

    @admin.display(description="Goal", ordering="goal__name")
    def goal_name(self, obj: GoalConversion) -> str:
        return obj.goal.name


@admin.register(TrackedLink)
class TrackedLinkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Tracked links (docs/reference.md §7): each message's links and how often people clicked them."""

    list_display = ["created_at", "contact", "url", "code", "clicks", "first_clicked_at"]
    list_filter = [test_contacts_filter("contact__is_test"), ("first_clicked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["contact"]
    search_fields = ["url", "code", "contact__phone"]
    date_hierarchy = "created_at"
    raw_id_fields = ["contact", "interaction", "enrollment"]
    fields = [
        "created_at", "code", "url", "contact", "interaction", "enrollment",
        "clicks", "first_clicked_at", "last_clicked_at",
    ]  # fmt: skip
