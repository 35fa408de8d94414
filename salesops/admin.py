"""Admin for ops staff (A4): every master-data model with search, filters and history.

History is read-only everywhere: the change-history view of simple_history, plus an 审计日志
list per model that also shows deleted records. Nobody can add, change or delete a history row.
"""

from __future__ import annotations

import dataclasses

from django.apps import apps
from django.contrib import admin
from django.http import HttpResponseNotAllowed
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from .forms import RepAdminForm
from .models import (
    AccessLog,
    Activity,
    Contact,
    Customer,
    Department,
    ErasureRecord,
    Hospital,
    ImportJob,
    ImportKind,
    Notification,
    NotificationAttempt,
    PrivacyNotice,
    Product,
    PushSubscription,
    ProductLine,
    Rep,
    Team,
)
from .params import parse_int

User = get_user_model()

class _ReadableChanges(HistoricalRecordContextHelper):
    """The admin's "变更" column with choice labels, local times and names, not raw values (U8)."""

    def format_delta_change(self, change):
        from .audit import display_value

        names = getattr(self, "_names", None)
        if names is None:
            names = self._names = {}
        return dataclasses.replace(
            change,
            field=capfirst(self.model._meta.get_field(change.field).verbose_name),
            old=display_value(self.model, change.field, change.old, names),
            new=display_value(self.model, change.field, change.new, names),
        )


class HistoryAdmin(SimpleHistoryAdmin):
    """The one base every history-tracked admin uses (T7). History is read-only: simple_history's
    "revert" form saves an old version over the record (walking around every status rule), so it
    answers GET only — a read-only view of the old version — and refuses POST with 405. The
    "revert" button is never shown. tests/scoring/test_attacks.py walks admin.site._registry."""

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def get_historical_record_context_helper(self, request, historical_record):
        return _ReadableChanges(self.model, historical_record)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=False):
        # ids, resolved to names by display_value (objects would be fetched per row)
        super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs=False)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return super().history_form_view(request, object_id, version_id, extra_context)


admin.site.site_header = _("SalesOps 运营后台")
admin.site.site_title = "SalesOps"
admin.site.index_title = _("运营后台")


def _history_view_with_checked_id(view):
    """simple_history's history page looks the object up with the raw URL text: "፩" or a NUL byte as
    an integer id raised ValueError (a 500, R4). A malformed id is a 404, as in Django's own views."""

    def history_view(self, request, object_id, extra_context=None):
        from django.contrib.admin.utils import unquote
        from django.http import Http404

        pk_field = self.model._meta.pk
        if pk_field.get_internal_type() in ("AutoField", "BigAutoField", "IntegerField", "BigIntegerField"):
            if parse_int(unquote(object_id), minimum=1) is None:
                raise Http404(f"{self.model._meta.verbose_name} {object_id[:40]!r}")
        return view(self, request, object_id, extra_context)

    return history_view


SimpleHistoryAdmin.history_view = _history_view_with_checked_id(SimpleHistoryAdmin.history_view)


class ImportEntryMixin:
    """Puts "Excel 导入" buttons on a changelist: ops start imports from where they manage the data."""

    change_list_template = "salesops/admin/change_list_import.html"
    import_kinds: tuple[str, ...] = ()

    def changelist_view(self, request, extra_context=None):
        links = [
            (reverse("imports:upload", args=[kind]), _("Excel 导入%(kind)s") % {"kind": ImportKind(kind).label})
            for kind in self.import_kinds
        ]
        return super().changelist_view(request, {**(extra_context or {}), "import_links": links})


class RepInline(admin.StackedInline):
    model = Rep
    form = RepAdminForm
    can_delete = False
    fk_name = "user"
    verbose_name = verbose_name_plural = _("销售档案")
    fields = ("role", "team", "product_lines", "grades_served", "capacity", "on_duty", "started_on", "left_on", "wecom_userid", "phone")
    filter_horizontal = ("product_lines",)


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """A4: ops create a person and their sales profile on one page."""

    inlines = [RepInline]
    list_display = ("username", "full_name", "rep_role", "rep_team", "rep_on_duty", "is_active", "is_staff")
    list_filter = ("rep__role", "rep__team", "rep__on_duty", "is_active", "is_staff", "is_superuser")
    search_fields = ("username", "first_name", "last_name", "email", "rep__wecom_userid", "rep__phone")
    list_select_related = ("rep", "rep__team")

    @admin.display(description=_("姓名"), ordering="last_name")
    def full_name(self, user) -> str:
        return user.get_full_name()

    @admin.display(description=_("角色"), ordering="rep__role")
    def rep_role(self, user) -> str:
        rep = getattr(user, "rep", None)
        return rep.get_role_display() if rep else "—"

    @admin.display(description=_("团队"), ordering="rep__team__name")
    def rep_team(self, user) -> str:
        rep = getattr(user, "rep", None)
        return str(rep.team) if rep and rep.team else "—"

    @admin.display(description=_("在岗"), boolean=True)
    def rep_on_duty(self, user) -> bool | None:
        rep = getattr(user, "rep", None)
        return rep.on_duty if rep else None


@admin.register(Team)
class TeamAdmin(HistoryAdmin):
    list_display = ("name", "supervisor", "region")
    search_fields = ("name", "supervisor__username", "supervisor__first_name")
    list_filter = ("region",)
    autocomplete_fields = ("supervisor",)


@admin.register(Rep)
class RepAdmin(HistoryAdmin):
    form = RepAdminForm
    list_display = ("user", "display_name", "role", "team", "capacity", "on_duty", "started_on", "left_on", "wecom_userid")
    list_filter = ("role", "team", "on_duty", "product_lines")
    search_fields = ("user__username", "user__first_name", "user__last_name", "wecom_userid", "phone")
    list_editable = ("on_duty", "capacity")
    filter_horizontal = ("product_lines",)
    autocomplete_fields = ("user", "team")


class DepartmentInline(admin.TabularInline):
    model = Department
    extra = 0


@admin.register(Hospital)
class HospitalAdmin(ImportEntryMixin, HistoryAdmin):
    import_kinds = (ImportKind.HOSPITALS,)
    inlines = [DepartmentInline]
    list_display = ("name", "grade", "city", "latitude", "longitude", "coordinate_system")
    list_filter = ("grade", "city", "coordinate_system")
    search_fields = ("name", "city", "address")


@admin.register(Department)
class DepartmentAdmin(HistoryAdmin):
    list_display = ("name", "hospital")
    search_fields = ("name", "hospital__name")
    list_filter = ("hospital__grade",)
    autocomplete_fields = ("hospital",)


class PersonalDataAdminMixin:
    """P2–P4 in admin: numbers masked in lists, every opened record logged, and the 导出个人信息
    action (the same export as `manage.py personal_data export`). `person_of(obj)` names the
    person: {"phone": …} or {"contact_id": …}."""

    actions = ["export_personal_data"]

    def person_of(self, obj) -> dict:
        return {"phone": obj.phone}

    @admin.display(description=_("电话"))
    def masked_phone(self, obj) -> str:
        from .privacy import mask_phone

        return mask_phone(obj.phone)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = getattr(response, "context_data", {}).get("original") if hasattr(response, "context_data") else None
        if obj is not None and request.method == "GET":
            from .privacy import log_access

            log_access(request, obj, "view")
        return response

    @admin.action(description=_("导出所选记录对应个人的全部信息（JSON）"))
    def export_personal_data(self, request, queryset):
        import json

        from django.http import HttpResponse

        from .privacy import client_ip_of, personal_data_export

        documents = []
        for obj in queryset[:50]:
            person = {key: value for key, value in self.person_of(obj).items() if value}
            if person:
                documents.append(personal_data_export(**person, by=request.user, ip=client_ip_of(request)))
        response = HttpResponse(json.dumps(documents, ensure_ascii=False, indent=1), content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="personal-data.json"'
        return response


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


@admin.register(Customer)
class CustomerAdmin(PersonalDataAdminMixin, ImportEntryMixin, HistoryAdmin):
    import_kinds = (ImportKind.CUSTOMERS,)
    list_display = ("name", "hospital", "department", "owner", "masked_phone", "created_at")
    list_filter = ("hospital__grade", "hospital__city", "owner__rep__team")
    search_fields = ("name", "hospital__name", "phone", "owner__username", "owner__first_name")
    autocomplete_fields = ("hospital", "department", "owner")
    inlines = [ContactInline]


@admin.register(Contact)
class ContactAdmin(PersonalDataAdminMixin, HistoryAdmin):
    """T3: a title ops set here is a verified title (who and when are kept, with history)."""

    list_display = ("name", "title", "title_verified_as", "title_verified_by", "title_verified_at", "customer", "masked_phone")
    list_filter = ("title", "title_verified_as")
    search_fields = ("name", "phone", "customer__name")
    autocomplete_fields = ("customer",)
    readonly_fields = ("title_verified_as", "title_verified_by", "title_verified_at")
    actions = ["verify_titles", "export_personal_data"]

    def person_of(self, obj) -> dict:
        return {"contact_id": obj.pk}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "title" in form.changed_data or not change:
            from .services import contact_title_verify

            contact_title_verify(contact=obj, title=obj.title, by=request.user)

    @admin.action(description=_("核实所选联系人的职务"))
    def verify_titles(self, request, queryset):
        from .services import contact_title_verify

        for contact in queryset:
            contact_title_verify(contact=contact, title=contact.title, by=request.user)
        self.message_user(request, _("已核实 %(n)d 位联系人的职务。") % {"n": queryset.count()})


class HasActiveProductsFilter(admin.SimpleListFilter):
    title = _("在售产品")
    parameter_name = "on_sale"

    def lookups(self, request, model_admin):
        return (("yes", _("有")), ("no", _("无")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(products__active=True).distinct()
        if self.value() == "no":
            return queryset.exclude(products__active=True)
        return queryset


@admin.register(ProductLine)
class ProductLineAdmin(HistoryAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")
    list_filter = (HasActiveProductsFilter,)


@admin.register(Product)
class ProductAdmin(HistoryAdmin):
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
    readonly_fields = ("attempt_number", "attempted_at", "ok", "error_code", "duration_ms", "detail")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(HistoryAdmin):
    list_display = ("created_at", "channel", "recipient", "title", "status", "attempts", "delivered_at")
    list_filter = ("channel", "status")
    search_fields = ("title", "recipient__username", "dedupe_key")
    readonly_fields = ("attempts", "last_error", "external_id", "delivered_at", "created_at")
    inlines = [NotificationAttemptInline]


@admin.register(ImportJob)
class ImportJobAdmin(ImportEntryMixin, HistoryAdmin):
    """Imports are started and confirmed on their own pages (preview, per-row errors); here ops
    find and read them. The row data stays out of admin: it can hold thousands of rows."""

    import_kinds = (ImportKind.CUSTOMERS, ImportKind.HOSPITALS)
    list_display = (
        "created_at", "kind", "original_name", "uploaded_by", "status", "total_rows", "error_count", "created_count", "page_link"
    )  # fmt: skip
    list_filter = ("kind", "status", "created_at")
    search_fields = ("original_name", "uploaded_by__username", "uploaded_by__first_name")
    date_hierarchy = "created_at"
    list_select_related = ("uploaded_by",)
    readonly_fields = (
        "kind", "file", "original_name", "uploaded_by", "status", "total_rows", "processed_rows", "error_count",
        "error", "created_count", "created_at", "parsed_at", "confirmed_by", "finished_at", "page_link",
    )  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("导入页面"))
    def page_link(self, job) -> str:
        return format_html('<a href="{}">{}</a>', reverse("imports:detail", args=[job.pk]), _("打开"))


class HistoryLogAdmin(ReadOnlyAdmin):
    """审计日志: every historical row of one model, deletions included; read-only."""

    list_display = ("history_date", "history_type", "history_user", "history_object", "history_change_reason")
    list_filter = ("history_type", "history_date")
    search_fields = ("history_user__username", "history_user__first_name", "history_change_reason")
    date_hierarchy = "history_date"
    list_select_related = ("history_user",)

    @admin.display(description=_("记录"))
    def history_object(self, obj) -> str:
        return str(obj.instance) if obj.history_type != "-" else _("%(record)s（已删除）") % {"record": obj.instance}


def register_history_logs(app_labels=("salesops", "leads", "cash", "visits", "scoring", "dashboards")) -> None:
    """Called once all apps are loaded (see urls.py): one read-only 审计日志 per audited model."""
    for model in apps.get_models():
        # (m2m snapshot tables of `m2m_fields` history are named Historical… too, but have no history_type)
        if model._meta.app_label in app_labels and model.__name__.startswith("Historical") and hasattr(model, "history_type"):
            if not admin.site.is_registered(model):
                admin.site.register(model, HistoryLogAdmin)


# --- Personal information (P2–P4) --------------------------------------------------------------


class AppendOnlyLogAdmin(ReadOnlyAdmin):
    """Read-only: nobody adds, changes or deletes a row here (the model refuses it too)."""

    def has_view_permission(self, request, obj=None) -> bool:
        # P3: the data-protection role (group 数据保护, permission view_personal_data_log).
        return request.user.has_perm("salesops.view_personal_data_log")

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)


@admin.register(AccessLog)
class AccessLogAdmin(AppendOnlyLogAdmin):
    list_display = ("at", "username", "action", "subject_type", "subject_id", "ip", "path")
    list_filter = ("action", "subject_type", "at")
    search_fields = ("username", "subject_id", "ip", "path")
    date_hierarchy = "at"
    list_select_related = ("subject_type",)


@admin.register(ErasureRecord)
class ErasureRecordAdmin(AppendOnlyLogAdmin):
    list_display = ("at", "by", "reason", "subject_hash")
    list_filter = ("at",)
    search_fields = ("subject_hash", "reason")


@admin.register(PrivacyNotice)
class PrivacyNoticeAdmin(HistoryAdmin):
    """P1: ops edit the notice the public form shows; the newest active version is shown and every
    lead keeps the version it consented to. Publish a changed text as a new version."""

    list_display = ("version", "active", "published_at")
    list_filter = ("active",)
    search_fields = ("version", "text")
@admin.register(PushSubscription)
class PushSubscriptionAdmin(HistoryAdmin):
    """U4: the browsers that accepted Web Push; ops may switch one off (never edit its keys)."""

    list_display = ("user", "user_agent", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("user__username", "endpoint")
    readonly_fields = ("user", "endpoint", "p256dh", "auth", "user_agent", "created_at")

    def has_add_permission(self, request) -> bool:
        return False
