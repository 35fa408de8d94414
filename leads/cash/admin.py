"""Ops run lead-to-cash settings from admin (A4): the discount approval line, validity and payment
terms, lost-deal reasons, bank accounts and their column maps, known payers. Money records
(versions, payments, statement rows) are changed only by the services, so here they are read-only."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from salesops.admin import HistoryAdmin as SimpleHistoryAdmin  # T7: read-only history

from .bankfiles import PRESET_CHOICES, PRESETS, validate_column_map
from .models import (
    BankAccount,
    BankStatement,
    CashSettings,
    Deal,
    DiscountApproval,
    LostReason,
    MatchProposal,
    PayerAlias,
    Payment,
    PaymentCredit,
    PlanTemplate,
    PlanTemplateItem,
    Quote,
    QuoteLine,
    QuoteVersion,
    Receivable,
    StatementRow,
)


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CashSettings)
class CashSettingsAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "discount_limit_percent", "quote_validity_days", "default_payment_days", "company_name")

    def has_add_permission(self, request) -> bool:
        return not CashSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LostReason)
class LostReasonAdmin(SimpleHistoryAdmin):
    list_display = ("name", "order", "active")
    list_editable = ("order", "active")


class BankAccountForm(forms.ModelForm):
    bank = forms.ChoiceField(label=_("银行格式预设"), choices=PRESET_CHOICES)
    apply_preset = forms.BooleanField(label=_("用预设覆盖列映射"), required=False)

    class Meta:
        model = BankAccount
        fields = ("name", "bank", "account_number", "apply_preset", "column_map", "active")
        help_texts = {
            "column_map": _(
                "键：date、time、amount_mode（split 分收入/支出两列 | signed 一列带正负号 | flagged 一列金额 + 借贷标志列）、"
                "money_in、money_out、amount、direction、in_values、out_values、negate、balance、payer_name、payer_account、"
                "memo（列表）、reference。值写文件里的表头原文。"
            )
        }

    def clean(self):
        data = super().clean()
        bank = data.get("bank")
        if bank in PRESETS and (data.get("apply_preset") or not data.get("column_map")):
            data["column_map"] = dict(PRESETS[bank]["map"])
            self.instance.column_map = data["column_map"]
        try:
            validate_column_map(data.get("column_map") or {})
        except forms.ValidationError as exc:
            self.add_error("column_map", exc.messages)
        return data


@admin.register(BankAccount)
class BankAccountAdmin(SimpleHistoryAdmin):
    form = BankAccountForm
    list_display = ("name", "bank", "account_number", "active")
    readonly_fields = ("presets",)

    @admin.display(description=_("全部预设"))
    def presets(self, obj=None) -> str:
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", json.dumps({k: v["map"] for k, v in PRESETS.items()}, ensure_ascii=False, indent=1))


@admin.register(PayerAlias)
class PayerAliasAdmin(SimpleHistoryAdmin):
    list_display = ("payer_name", "payer_account", "hospital", "learned", "created_at")
    list_filter = ("learned",)
    search_fields = ("payer_name", "payer_account", "hospital__name")
    autocomplete_fields = ("hospital",)
    readonly_fields = ("payer_key",)


class QuoteLineInline(ReadOnlyMixin, admin.TabularInline):
    model = QuoteLine
    fields = ("product_model", "product_name", "quantity", "unit_price", "discount_percent", "tax_rate_percent", "line_total")
    readonly_fields = fields


@admin.register(QuoteVersion)
class QuoteVersionAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("__str__", "status", "total", "sent_at", "confirmed_at")
    list_filter = ("status",)
    search_fields = ("quote__number", "quote__customer__name")
    inlines = [QuoteLineInline]


class QuoteVersionInline(ReadOnlyMixin, admin.TabularInline):
    model = QuoteVersion
    fields = ("version", "status", "total", "valid_until", "sent_at", "confirmed_at", "rejected_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(Quote)
class QuoteAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("number", "customer", "rep", "created_at")
    search_fields = ("number", "customer__name", "rep__username")
    inlines = [QuoteVersionInline]


@admin.register(DiscountApproval)
class DiscountApprovalAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("version", "discount_percent", "status", "requested_by", "decided_by", "decided_at")
    list_filter = ("status",)


class ReceivableInline(ReadOnlyMixin, admin.TabularInline):
    model = Receivable
    fields = ("sequence", "milestone", "percent", "amount", "due_rule", "offset_days", "offset_months", "due_date", "paid_amount")
    readonly_fields = fields


@admin.register(Deal)
class DealAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("number", "hospital", "status", "amount", "owner", "closed_at")
    list_filter = ("status", "lost_reason_choice")
    search_fields = ("number", "hospital__name", "product_summary")
    inlines = [ReceivableInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("received_on", "amount", "receivable", "pushed_by", "recorded_by", "reference")
    search_fields = ("reference", "receivable__deal__number")


@admin.register(BankStatement)
class BankStatementAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("original_name", "account", "status", "new_rows", "duplicate_rows", "uploaded_by", "uploaded_at")
    list_filter = ("status", "account")


@admin.register(StatementRow)
class StatementRowAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("booked_on", "payer_name", "amount", "reference", "status", "account")
    list_filter = ("status", "account")
    search_fields = ("payer_name", "memo", "reference")


@admin.register(MatchProposal)
class MatchProposalAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("row", "rank", "kind", "confidence", "score", "status")
    list_filter = ("kind", "confidence", "status")


class PlanTemplateItemInline(admin.TabularInline):
    model = PlanTemplateItem
    fields = ("order", "milestone", "percent", "amount", "due_rule", "offset_days", "offset_months")
    extra = 0


@admin.register(PlanTemplate)
class PlanTemplateAdmin(SimpleHistoryAdmin):
    """C6: milestone plan templates per product line (ops). Plans already on deals do not change."""

    list_display = ("name", "product_line", "is_default", "active")
    list_filter = ("product_line", "active")
    inlines = [PlanTemplateItemInline]


@admin.register(PaymentCredit)
class PaymentCreditAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ("receivable", "pusher", "named_by", "basis", "created_at", "revoked_at")
    list_filter = ("basis",)
