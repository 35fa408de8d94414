"""Ops staff edit the points and the bonus policy here (S1, S3, A4). A rule that points were
earned under is never changed in place: saving an edit publishes a new version instead."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


from salesops.admin import HistoryAdmin, ReadOnlyAdmin

from .models import BonusPolicy, BonusShare, BonusSplit, Contribution, ContributionReview, ContributionRule, ScoringSettings


class ContributionRuleForm(forms.ModelForm):
    class Meta:
        model = ContributionRule
        fields = ("behaviour", "points", "effective_from", "note")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.instance.has_earned_points() and self.has_changed():
            # Becomes a new version: it may start now at the earliest, never in the past.
            effective_from = cleaned.get("effective_from") or timezone.now()
            cleaned["effective_from"] = max(effective_from, timezone.now())
        return cleaned


@admin.register(ContributionRule)
class ContributionRuleAdmin(HistoryAdmin):
    form = ContributionRuleForm
    list_display = ("behaviour", "points", "effective_from", "note", "earned")
    list_filter = ("behaviour",)
    ordering = ("behaviour", "-effective_from")

    @admin.display(description=_("已计分动作数"))
    def earned(self, obj: ContributionRule) -> int:
        return obj.contributions.count()

    def save_model(self, request, obj, form, change):
        if change and form.has_changed() and ContributionRule.objects.get(pk=obj.pk).has_earned_points():
            obj.pk = None
            obj._state.adding = True
            obj.created_at = timezone.now()
            messages.info(
                request,
                _("该规则已产生贡献值，未修改原规则；已发布新版本，自 %(time)s 起生效。")
                % {"time": f"{timezone.localtime(obj.effective_from):%Y-%m-%d %H:%M}"},
            )
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.has_earned_points():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(BonusPolicy)
class BonusPolicyAdmin(HistoryAdmin):
    list_display = ("name", "basis", "rate_percent", "fixed_amount", "window_days", "effective_from")
    list_filter = ("basis",)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.splits.exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Contribution)
class ContributionAdmin(ReadOnlyAdmin):
    """Derived from the ledger; ops can read and filter it, never type a point in."""

    list_display = ("occurred_at", "behaviour", "points", "rep", "customer", "activity", "rule")
    list_filter = ("behaviour", "team")
    search_fields = ("rep__username", "rep__first_name", "customer__name")
    date_hierarchy = "occurred_at"
    list_select_related = ("rep", "customer", "activity", "rule")


class BonusShareInline(admin.TabularInline):
    model = BonusShare
    extra = 0
    can_delete = False
    fields = ("rank", "rep", "points", "exact_quota", "amount", "remainder_cent", "first_contribution_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BonusSplit)
class BonusSplitAdmin(ReadOnlyAdmin, HistoryAdmin):
    """Approve and correct in the app (supervisors); here ops can read every entry and its history."""

    list_display = ("pk", "deal", "pool", "total_points", "status", "fell_back_to_owner", "corrects", "created_at")
    list_filter = ("status", "fell_back_to_owner")
    search_fields = ("deal__customer__name", "deal__hospital__name")
    list_select_related = ("deal", "deal__hospital", "corrects")
    inlines = [BonusShareInline]
    exclude = ("contributions",)


@admin.register(ContributionReview)
class ContributionReviewAdmin(ReadOnlyAdmin, HistoryAdmin):
    """T2: decisions are made by supervisors in the app (reason required); here they are read."""

    list_display = ("created_at", "contribution", "status", "reason", "decided_by", "decided_at")
    list_filter = ("status",)
    list_select_related = ("contribution", "contribution__rep", "decided_by")


@admin.register(ScoringSettings)
class ScoringSettingsAdmin(HistoryAdmin):
    """Cooldowns, the junk-lead reversal period and the final-split cut-off (T2, T4, T5)."""

    def has_add_permission(self, request) -> bool:
        return not ScoringSettings.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
