"""Ops staff edit thresholds and suggestion links, manage TV screens (revoke, new token) and
workday adjustments; interventions and reports are viewed here but written by the services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from salesops.admin import HistoryAdmin as SimpleHistoryAdmin  # T7: read-only history

from .models import Intervention, ReportSnapshot, Threshold, TvScreen, WorkdayOverride
from .services import tvscreen_revoke, tvscreen_rotate


@admin.register(Threshold)
class ThresholdAdmin(SimpleHistoryAdmin):
    list_display = ("kpi", "healthy_value", "trigger_value", "run_length", "window", "due_in_days", "sop_url", "training_video_url")
    fieldsets = (
        (None, {"fields": ("kpi",)}),
        (_("健康线与异常规则"), {"fields": ("healthy_value", "trigger_value", "run_length", "window", "due_in_days", "lookback_days", "contact_basis")}),
        (_("一键优化建议"), {"fields": ("sop_title", "sop_url", "training_video_title", "training_video_url")}),
    )


@admin.register(TvScreen)
class TvScreenAdmin(SimpleHistoryAdmin):
    list_display = ("name", "location", "status", "board_link", "created_at", "revoked_at")
    readonly_fields = ("board_link", "created_at", "revoked_at")
    fields = ("name", "location", "language", "board_link", "created_at", "revoked_at")
    actions = ("revoke", "rotate")
    search_fields = ("name", "location")

    @admin.display(description=_("状态"))
    def status(self, screen: TvScreen) -> str:
        return _("有效") if screen.is_active else _("已吊销")

    @admin.display(description=_("大屏地址"))
    def board_link(self, screen: TvScreen) -> str:
        if not screen.pk:
            return _("保存后生成")
        if not screen.is_active:
            return _("已吊销（可“生成新令牌”恢复）")
        url = f"{getattr(settings, 'SITE_URL', '')}{screen.get_absolute_url()}"
        return format_html('<a href="{0}" target="_blank" rel="noreferrer">{0}</a>', url)

    @admin.action(description=_("吊销所选屏幕的令牌"))
    def revoke(self, request, queryset):
        for screen in queryset:
            tvscreen_revoke(screen=screen, by=request.user)
        self.message_user(request, _("已吊销，这些地址立即失效。"), messages.SUCCESS)

    @admin.action(description=_("为所选屏幕生成新令牌（旧地址失效）"))
    def rotate(self, request, queryset):
        for screen in queryset:
            tvscreen_rotate(screen=screen, by=request.user)
        self.message_user(request, _("已生成新令牌，请在电视上打开新地址。"), messages.SUCCESS)


@admin.register(Intervention)
class InterventionAdmin(SimpleHistoryAdmin):
    list_display = ("title", "kind", "team", "owner", "status", "due_on", "created_at")
    list_filter = ("kind", "status", "team")
    search_fields = ("title", "why", "owner__username", "owner__first_name")
    readonly_fields = (
        "kind", "kpi", "occurrence_key", "team", "subject_rep", "title", "why", "trigger_data",
        "period_start", "period_end", "created_at", "status", "closed_at", "closed_by", "closing_note",
    )
    fields = readonly_fields[:10] + ("owner", "due_on") + readonly_fields[10:]
    autocomplete_fields = ("owner",)

    def has_add_permission(self, request) -> bool:
        return False  # opened by the anomaly rules only


@admin.register(ReportSnapshot)
class ReportSnapshotAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "kind", "period_start", "period_end", "generated_at", "generated_by")
    list_filter = ("kind",)
    readonly_fields = ("kind", "period_start", "period_end", "pdf", "generated_at", "generated_by")
    exclude = ("data",)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WorkdayOverride)
class WorkdayOverrideAdmin(SimpleHistoryAdmin):
    list_display = ("day", "is_workday", "note")
    list_filter = ("is_workday",)
    date_hierarchy = "day"
