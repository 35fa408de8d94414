"""Leads in admin (A4): ops edit weights (drafts, then publish), channels, and read everything else."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from salesops.admin import HistoryAdmin as SimpleHistoryAdmin  # T7: read-only history
from salesops.admin import PersonalDataAdminMixin

from .models import (
    Leave,
    Territory,
    TerritoryArea,
    WorkSchedule,
    AssignmentDecision,
    AssignmentRules,
    ContactAttempt,
    DialerCall,
    Lead,
    LeadRepeat,
    NotifyChannel,
    RulesStatus,
    SourceConsent,
    WebhookReceipt,
)
from .services import LeadActionError, rules_initial, rules_publish
from .territories import TerritoryImportError, read_territory_file, territories_import


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DecisionInline(ReadOnlyMixin, admin.TabularInline):
    model = AssignmentDecision
    fields = ("decided_at", "kind", "basis", "chosen", "decided_by", "rules", "eligible_count", "tie_size", "duration_us", "reason")
    readonly_fields = fields
    extra = 0


class ContactAttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = ContactAttempt
    fields = ("occurred_at", "kind", "source", "by", "duration_seconds", "outcome", "effective", "note")
    readonly_fields = fields
    extra = 0


@admin.register(Lead)
class LeadAdmin(PersonalDataAdminMixin, SimpleHistoryAdmin):
    list_display = ("created_at", "contact_name", "masked_phone", "hospital_display", "product_model", "source", "status", "assignee", "assigned_at", "acknowledged_at")
    list_filter = ("status", "source", "hospital_grade", "created_at")
    search_fields = ("contact_name", "phone", "hospital_name", "product_model", "assignee__username")
    date_hierarchy = "created_at"
    list_select_related = ("assignee", "hospital")
    raw_id_fields = ("customer", "hospital", "product", "assignee", "introduced_by")
    # Assignment, acknowledgement and contacts happen through the services (they notify, escalate
    # and append to the ledger); here ops can correct the lead's own data.
    readonly_fields = (
        "status", "assignee", "created_at", "assigned_at", "acknowledged_at", "acknowledged_via", "escalated_at",
        "first_effective_contact_at", "last_contact_at", "repeat_count", "last_repeat_at", "closed_at", "unassigned_reason", "page_link",
        "consent_basis", "consent_notice_version", "consent_given_at", "consent_channel", "pseudonymised_at",
    )
    inlines = [DecisionInline, ContactAttemptInline]

    @admin.display(description=_("页面"))
    def page_link(self, lead) -> str:
        if lead.pk is None:  # the add form has no page yet
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("leads:detail", args=[lead.pk]), _("打开线索页"))


@admin.register(AssignmentRules)
class AssignmentRulesAdmin(SimpleHistoryAdmin):
    """Weights are versioned: edit a draft, simulate it (link), publish it. A live or retired
    version is never edited — every stored decision points at the weights that made it."""

    list_display = (
        "version", "status", "weight_grade", "weight_product_line", "weight_workload", "weight_territory", "owner_policy", "tie_band",
        "ack_timeout_minutes", "dedupe_window_days", "published_at", "simulate_link",
    )
    list_filter = ("status",)
    fields = (
        "version", "status", "weight_grade", "weight_product_line", "weight_workload", "weight_territory", "owner_policy", "tie_band",
        "ack_timeout_minutes", "dedupe_window_days", "note", "published_at", "published_by",
    )
    actions = ["publish"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != RulesStatus.DRAFT:
            return self.fields
        return ("status", "published_at", "published_by")

    def get_changeform_initial_data(self, request):
        live = AssignmentRules.live()
        last = AssignmentRules.objects.order_by("-version").first()
        return {"version": (last.version if last else 0) + 1, **rules_initial(live)}

    def save_model(self, request, obj, form, change):
        if not change:
            obj.status, obj.created_by = RulesStatus.DRAFT, request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is None or obj.status == RulesStatus.DRAFT and not obj.decisions.exists()

    @admin.display(description=_("模拟"))
    def simulate_link(self, rules) -> str:
        return format_html('<a href="{}">{}</a>', reverse("leads:simulate", args=[rules.pk]), _("回放对比"))

    @admin.action(description=_("发布所选草稿（替换当前生效版本）"))
    def publish(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("一次只能发布一个版本"), messages.ERROR)
            return
        try:
            rules = rules_publish(rules=queryset.get(), by=request.user)
        except LeadActionError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, _("v%(v)s 已生效") % {"v": rules.version}, messages.SUCCESS)


@admin.register(AssignmentDecision)
class AssignmentDecisionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("decided_at", "lead", "kind", "basis", "chosen", "decided_by", "rules", "eligible_count", "tie_size", "duration_us", "reason")
    list_filter = ("kind", "basis", "rules")
    list_select_related = ("lead", "chosen", "decided_by", "rules")
    search_fields = ("lead__contact_name", "chosen__username")


@admin.register(NotifyChannel)
class NotifyChannelAdmin(SimpleHistoryAdmin):
    list_display = ("channel", "enabled", "on_assignment", "on_escalation")
    list_editable = ("enabled", "on_assignment", "on_escalation")


@admin.register(DialerCall)
class DialerCallAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("requested_at", "external_ref", "lead", "status", "talk_seconds", "intent", "last_event_at")
    list_filter = ("status",)
    search_fields = ("external_ref", "lead__contact_name")


@admin.register(ContactAttempt)
class ContactAttemptAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("occurred_at", "lead", "kind", "source", "by", "duration_seconds", "outcome", "effective")
    list_filter = ("kind", "source", "effective", "outcome")


@admin.register(LeadRepeat)
class LeadRepeatAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("received_at", "lead", "source", "contact_name", "introduced_by")


@admin.register(WebhookReceipt)
class WebhookReceiptAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("received_at", "endpoint", "key", "status_code")
    list_filter = ("endpoint", "status_code")
    search_fields = ("key",)


# --- Routing master data (L10, L11) --------------------------------------------------------------


class TerritoryImportForm(forms.Form):
    file = forms.FileField(label=_("文件（.xlsx 或 .csv）"))


class TerritoryAreaInline(admin.TabularInline):
    model = TerritoryArea
    fields = ("city", "district", "hospital")
    raw_id_fields = ("hospital",)
    extra = 1


@admin.register(Territory)
class TerritoryAdmin(SimpleHistoryAdmin):
    """Territories owned by teams (L10); every change is history (the simulation replays it)."""

    list_display = ("name", "team", "active", "area_list")
    list_filter = ("team", "active")
    search_fields = ("name", "areas__city", "areas__district", "areas__hospital__name")
    inlines = [TerritoryAreaInline]
    change_list_template = "salesops/admin/change_list_import.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("team").prefetch_related("areas__hospital")

    @admin.display(description=_("范围"))
    def area_list(self, territory) -> str:
        return "、".join(str(area) for area in territory.areas.all())[:200]

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="leads_territory_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        links = [(reverse("admin:leads_territory_import"), _("Excel 导入辖区"))] if self.has_add_permission(request) else []
        return super().changelist_view(request, {**(extra_context or {}), "import_links": links})

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TerritoryImportForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                outcome = territories_import(read_territory_file(upload, upload.name), by=request.user)
            except TerritoryImportError as exc:
                errors = [str(exc)]
            else:
                errors = [f"「{upload.name}」{error}" for error in outcome.errors]
                if outcome.ok:
                    self.message_user(
                        request,
                        _("已导入：新建辖区 %(t)s 个，范围 %(a)s 条；已存在 %(u)s 条未变") % {"t": outcome.territories_created, "a": outcome.areas_created, "u": outcome.unchanged},
                        messages.SUCCESS,
                    )
                    return redirect("admin:leads_territory_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "errors": errors, "title": _("Excel 导入辖区")}
        return render(request, "leads/admin/territory_import.html", context, status=400 if errors else 200)


@admin.register(WorkSchedule)
class WorkScheduleAdmin(SimpleHistoryAdmin):
    """Working hours per team or per rep (L11); the rep's own wins."""

    list_display = ("__str__", "team", "user", "day_rule", "start_time", "end_time")
    list_filter = ("day_rule", "team")
    raw_id_fields = ("user",)


@admin.register(Leave)
class LeaveAdmin(SimpleHistoryAdmin):
    """Leave periods (L11): a rep on leave takes no new leads."""

    list_display = ("user", "kind", "starts_at", "ends_at", "note")
    list_filter = ("kind",)
    search_fields = ("user__username", "user__first_name", "note")
    raw_id_fields = ("user",)
    date_hierarchy = "starts_at"

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        super().save_model(request, obj, form, change)


@admin.register(SourceConsent)
class SourceConsentAdmin(SimpleHistoryAdmin):
    """P1: per channel, whether the person's consent is collected before the lead reaches us."""

    list_display = ("source", "collected_elsewhere", "note")
    list_editable = ("collected_elsewhere",)
    list_filter = ("collected_elsewhere",)
    search_fields = ("source", "note")
