"""Admin for ops staff (A4): every master-data model with search, filters and history.

History is read-only everywhere: the change-history view of simple_history, plus an 审计日志
list per model that also shows deleted records. Nobody can add, change or delete a history row.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    Activity,
    Contact,
    Customer,
    Department,
    Hospital,
    ImportJob,
    Notification,
    NotificationAttempt,
    Product,
    ProductLine,
    Rep,
    Team,
)

admin.site.site_header = "SalesOps 运营后台"
admin.site.site_title = "SalesOps"


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ("name", "supervisor", "region")
    search_fields = ("name", "supervisor__username", "supervisor__first_name")
    list_filter = ("region",)
    autocomplete_fields = ("supervisor",)


@admin.register(Rep)
class RepAdmin(SimpleHistoryAdmin):
    list_display = ("user", "display_name", "role", "team", "capacity", "on_duty", "wecom_userid")
    list_filter = ("role", "team", "on_duty", "product_lines")
    search_fields = ("user__username", "user__first_name", "user__last_name", "wecom_userid", "phone")
    list_editable = ("on_duty", "capacity")
    filter_horizontal = ("product_lines",)
    autocomplete_fields = ("user", "team")


@admin.register(Hospital)
class HospitalAdmin(SimpleHistoryAdmin):
    list_display = ("name", "grade", "city", "latitude", "longitude", "coordinate_system")
    list_filter = ("grade", "city", "coordinate_system")
    search_fields = ("name", "city", "address")


@admin.register(Department)
class DepartmentAdmin(SimpleHistoryAdmin):
    list_display = ("name", "hospital")
    search_fields = ("name", "hospital__name")
    list_filter = ("hospital__grade",)
    autocomplete_fields = ("hospital",)


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = ("name", "hospital", "department", "owner", "phone", "created_at")
    list_filter = ("hospital__grade", "hospital__city", "owner__rep__team")
    search_fields = ("name", "hospital__name", "phone", "owner__username", "owner__first_name")
    autocomplete_fields = ("hospital", "department", "owner")
    inlines = [ContactInline]


@admin.register(Contact)
class ContactAdmin(SimpleHistoryAdmin):
    list_display = ("name", "title", "customer", "phone")
    list_filter = ("title",)
    search_fields = ("name", "phone", "customer__name")
    autocomplete_fields = ("customer",)


@admin.register(ProductLine)
class ProductLineAdmin(SimpleHistoryAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")


@admin.register(Product)
class ProductAdmin(SimpleHistoryAdmin):
    list_display = ("model_number", "name", "line", "list_price", "unit", "active")
    list_filter = ("line", "active")
    search_fields = ("model_number", "name")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    """The ledger is append-only: ops can read and filter it, never change it."""

    list_display = ("occurred_at", "kind", "rep", "team", "customer", "subject_type", "subject_id")
    list_filter = ("kind", "team", "occurred_at")
    search_fields = ("rep__username", "rep__first_name", "customer__name")
    date_hierarchy = "occurred_at"
    list_select_related = ("rep", "team", "customer", "subject_type")


class NotificationAttemptInline(admin.TabularInline):
    model = NotificationAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("attempted_at", "ok", "detail")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(SimpleHistoryAdmin):
    list_display = ("created_at", "channel", "recipient", "title", "status", "attempts", "delivered_at")
    list_filter = ("channel", "status")
    search_fields = ("title", "recipient__username", "dedupe_key")
    readonly_fields = ("attempts", "last_error", "delivered_at", "created_at")
    inlines = [NotificationAttemptInline]


@admin.register(ImportJob)
class ImportJobAdmin(SimpleHistoryAdmin):
    list_display = ("created_at", "kind", "original_name", "uploaded_by", "status", "total_rows", "created_count")
    list_filter = ("kind", "status")
    readonly_fields = ("rows",)


class HistoryLogAdmin(ReadOnlyAdmin):
    """审计日志: every historical row of one model, deletions included; read-only."""

    list_display = ("history_date", "history_type", "history_user", "history_object", "history_change_reason")
    list_filter = ("history_type", "history_date")
    date_hierarchy = "history_date"
    list_select_related = ("history_user",)

    @admin.display(description="记录")
    def history_object(self, obj) -> str:
        return str(obj.instance) if obj.history_type != "-" else f"{obj.instance}（已删除）"


def register_history_logs(app_labels=("salesops", "leads", "cash", "visits", "scoring", "dashboards")) -> None:
    """Called once all apps are loaded (see urls.py): one read-only 审计日志 per audited model."""
    for model in apps.get_models():
        if model._meta.app_label in app_labels and model.__name__.startswith("Historical"):
            if not admin.site.is_registered(model):
                admin.site.register(model, HistoryLogAdmin)
