"""Ops staff edit thresholds and suggestion links, manage TV screens (revoke, new token) and
workday adjustments; interventions and reports are viewed here but written by the services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from salesops.admin import HistoryAdmin as SimpleHistoryAdmin  # T7: read-only history

from datetime import date

from django import forms
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .holidays import holiday_notice_import, parse_notice
from .models import HolidayNotice, Intervention, ReportSnapshot, Threshold, TvScreen, WorkdayOverride
from .workdays import calendar_gap, library_covers_year
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


class HolidayNoticeForm(forms.Form):
    year = forms.IntegerField(label=_("年份"), min_value=2000, max_value=2100)
    text = forms.CharField(
        label=_("通知原文或日期"),
        widget=forms.Textarea(attrs={"rows": 14, "cols": 100}),
        help_text=_("粘贴国务院办公厅《关于××年部分节假日安排的通知》正文；或逐行填写“2027-01-01 休”“2027-02-06 班”“2027-02-10至2027-02-16 休”。"),
    )


@admin.register(HolidayNotice)
class HolidayNoticeAdmin(SimpleHistoryAdmin):
    """D6: paste the State Council's notice, preview the days understood, confirm → one
    WorkdayOverride per day (with history) and the year counts as covered."""

    list_display = ("year", "imported_by", "imported_at")
    readonly_fields = ("year", "text", "imported_by", "imported_at")

    def has_add_permission(self, request) -> bool:
        return False  # through the import (preview, confirm), never a bare row

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="dashboards_holidaynotice_import"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "import_url": reverse("admin:dashboards_holidaynotice_import")}
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        if not self.has_change_permission(request) and not request.user.has_perm("dashboards.add_workdayoverride"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        gap = calendar_gap(date.today())
        initial = {"year": gap.year if gap else date.today().year + 1}
        form = HolidayNoticeForm(request.POST or None, initial=initial)
        parsed = None
        if request.method == "POST" and form.is_valid():
            year, text = form.cleaned_data["year"], form.cleaned_data["text"]
            parsed = parse_notice(text, year)
            if parsed.errors:
                for error in parsed.errors:
                    form.add_error("text", error)
            elif "confirm" in request.POST:
                notice = holiday_notice_import(year=year, text=text, by=request.user)
                messages.success(
                    request,
                    _("已导入 %(year)s 年放假调休安排：放假 %(h)s 天，调休上班 %(w)s 天。")
                    % {"year": notice.year, "h": len(parsed.holidays), "w": len(parsed.workdays)},
                )
                return redirect("admin:dashboards_holidaynotice_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("导入国务院放假调休通知"),
            "form": form,
            "parsed": parsed,
            "gap": gap,
            "library_covers": library_covers_year(parsed.year if parsed else initial["year"]),
        }
        return TemplateResponse(request, "admin/dashboards/holidaynotice/import.html", context)
