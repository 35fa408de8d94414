"""Forms name their fields; prices, totals, status and owners are set by the services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django.db.models import Q

from salesops.access import is_manager
from salesops.models import Customer, Product, Role

from .models import BankAccount, CashSettings, DueRule, LostReason, Milestone, PlanTemplate, Receivable

User = get_user_model()
TAX_CHOICES = [(Decimal(rate), f"{rate}%") for rate in ("13.00", "9.00", "6.00", "3.00", "1.00", "0.00")]


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.username


class QuoteCreateForm(forms.Form):
    customer = forms.ModelChoiceField(label=_("客户"), queryset=Customer.objects.none(), empty_label=_("请选择客户"))
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = Customer.objects.visible_to(user).select_related("hospital").order_by("name")


class LineValuesForm(forms.Form):
    quantity = forms.IntegerField(label=_("数量"), min_value=1, max_value=100000, initial=1)
    discount_percent = forms.DecimalField(
        label=_("折扣%"), min_value=Decimal("0"), max_value=Decimal("99.99"), decimal_places=2, initial=Decimal("0"), required=False
    )
    tax_rate_percent = forms.TypedChoiceField(label=_("税率"), choices=TAX_CHOICES, coerce=Decimal, initial=Decimal("13.00"))

    def clean_discount_percent(self):
        return self.cleaned_data.get("discount_percent") or Decimal("0")


class LineAddForm(LineValuesForm):
    product = forms.ModelChoiceField(
        label=_("产品"), queryset=Product.objects.filter(active=True).select_related("line"), empty_label=_("从价目表选择产品")
    )

    field_order = ["product", "quantity", "discount_percent", "tax_rate_percent"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].label_from_instance = lambda p: f"{p.model_number} {p.name} ¥{p.list_price:,.2f}"
        self.fields["tax_rate_percent"].initial = CashSettings.load().default_tax_rate_percent


class VersionMetaForm(forms.Form):
    valid_until = forms.DateField(label=_("有效期至"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    note = forms.CharField(label=_("备注"), max_length=200, required=False)


class ApprovalRequestForm(forms.Form):
    reason = forms.CharField(label=_("申请理由"), max_length=200, required=False)


class ApprovalDecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("审批结果"), choices=[("approve", _("批准")), ("reject", _("驳回"))])
    note = forms.CharField(label=_("审批意见"), max_length=200, required=False)


class ConfirmForm(forms.Form):
    """Confirming a quote closes the deal: the receivable plan comes with it — a milestone template
    of the quote's product line (C6), or equal instalments."""

    plan_template = forms.ModelChoiceField(
        label=_("回款计划"), queryset=PlanTemplate.objects.none(), required=False, empty_label=_("等额分期（按下方设置）")
    )
    instalments = forms.IntegerField(label=_("分期数"), min_value=1, max_value=24, initial=1, required=False)
    first_due = forms.DateField(label=_("首期到期日"), required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    months_apart = forms.IntegerField(label=_("每期间隔（月）"), min_value=1, max_value=12, initial=1, required=False)

    def __init__(self, *args, version=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = version
        self.fields["first_due"].initial = timezone.localdate() + timedelta(days=CashSettings.load().default_payment_days)
        templates = templates_for(version)
        self.fields["plan_template"].queryset = templates
        default = templates.filter(is_default=True, product_line__isnull=False).first() or templates.filter(is_default=True).first()
        if default is not None:
            self.fields["plan_template"].initial = default.pk

    def clean(self):
        data = super().clean()
        if not data.get("plan_template"):
            for name in ("instalments", "first_due", "months_apart"):
                if data.get(name) in (None, ""):
                    self.add_error(name, _("等额分期需填写此项"))
        return data

    def plan(self):
        from .deals import add_months, plan_from_template, split_evenly

        data = self.cleaned_data
        if data.get("plan_template"):
            return plan_from_template(data["plan_template"])
        parts = split_evenly(self.version.total, data["instalments"])
        return [(part, add_months(data["first_due"], data["months_apart"] * index)) for index, part in enumerate(parts)]


def templates_for(version) -> "forms.QuerySet":
    """Active plan templates for the version's product lines, plus the general ones."""
    lines = set(version.lines.values_list("product__line_id", flat=True)) if version is not None else set()
    lines.discard(None)
    return PlanTemplate.objects.filter(active=True).filter(Q(product_line__isnull=True) | Q(product_line__in=lines)).prefetch_related("items")


class PlanItemForm(forms.Form):
    """One instalment of the plan editor: percentage OR amount, and the due rule."""

    receivable_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    milestone = forms.ChoiceField(label=_("节点"), choices=Milestone.choices)
    percent = forms.DecimalField(label=_("比例（%）"), min_value=Decimal("0.01"), max_value=Decimal("100"), decimal_places=2, required=False)
    amount = forms.DecimalField(label=_("金额"), min_value=Decimal("0.01"), decimal_places=2, max_digits=14, required=False)
    due_rule = forms.ChoiceField(label=_("到期规则"), choices=DueRule.choices)
    offset_days = forms.IntegerField(label=_("账期（天）"), min_value=0, max_value=720, initial=0, required=False)
    offset_months = forms.IntegerField(label=_("间隔（月）"), min_value=0, max_value=60, initial=0, required=False)
    due_date = forms.DateField(label=_("指定到期日"), required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if not self.has_changed() and not data.get("receivable_id"):
            return data
        if (data.get("percent") is None) == (data.get("amount") is None):
            raise forms.ValidationError(_("比例和金额填一个"))
        if data.get("due_rule") == DueRule.FIXED and not data.get("due_date"):
            self.add_error("due_date", _("指定日期规则需填写到期日"))
        if data.get("due_rule") == DueRule.MONTHS_AFTER_ACCEPTANCE and not data.get("offset_months"):
            self.add_error("offset_months", _("请填写验收后几个月（质保金通常 12 个月）"))
        return data

    def item(self):
        from .deals import PlanItem

        data = self.cleaned_data
        return PlanItem(
            milestone=data["milestone"],
            percent=data.get("percent"),
            amount=data.get("amount") if data.get("percent") is None else None,
            due_rule=data["due_rule"],
            offset_days=data.get("offset_days") or 0,
            offset_months=data.get("offset_months") or 0,
            due_date=data.get("due_date"),
            receivable_id=data.get("receivable_id"),
        )


PlanItemFormSet = forms.formset_factory(PlanItemForm, extra=1, max_num=12)


class MilestoneDatesForm(forms.Form):
    delivered_on = forms.DateField(label=_("到货日期"), required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    accepted_on = forms.DateField(label=_("验收日期"), required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=200)


class VerifyForm(forms.Form):
    pushed_by = UserChoiceField(label=_("回款推动人"), queryset=User.objects.none(), required=False, empty_label=_("（暂不指定）"))

    def __init__(self, *args, deal, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pushed_by"].queryset = pusher_choices(deal, user)


def pusher_choices(deal, user):
    """The deal's reps (and owner) with a rep or supervisor role, never the person naming them."""
    ids = set(deal.reps.values_list("pk", flat=True)) | {deal.owner_id}
    return User.objects.filter(pk__in=ids, rep__role__in=(Role.REP, Role.SUPERVISOR)).exclude(pk=user.pk).order_by("username")


class LostForm(forms.Form):
    reason = forms.ModelChoiceField(
        label=_("丢单原因"), queryset=LostReason.objects.filter(active=True), required=False, empty_label=_("请选择原因")
    )
    detail = forms.CharField(label=_("补充说明"), max_length=150, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("reason") and not data.get("detail"):
            raise forms.ValidationError(_("请选择或填写丢单原因"))
        return data


class PaymentForm(forms.Form):
    receivable = forms.ModelChoiceField(label=_("应收期次"), queryset=Receivable.objects.none(), empty_label=_("请选择期次"))
    amount = forms.DecimalField(label=_("金额"), min_value=Decimal("0.01"), decimal_places=2, max_digits=14)
    received_on = forms.DateField(label=_("到账日期"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    pushed_by = UserChoiceField(label=_("回款推动人"), queryset=User.objects.none(), required=False, empty_label=_("（暂不指定，由财务核实时指定）"))
    reference = forms.CharField(label=_("流水号/备注"), max_length=120, required=False)

    def __init__(self, *args, deal, user, **kwargs):
        super().__init__(*args, **kwargs)
        open_receivables = deal.receivables.open().order_by("sequence")
        self.fields["receivable"].queryset = open_receivables
        self.fields["receivable"].label_from_instance = lambda r: _("第 %(n)d 期 %(milestone)s · 到期 %(due)s · 未收 ¥%(out)s") % {
            "n": r.sequence,
            "milestone": r.get_milestone_display(),
            "due": r.due_date or _("待定"),
            "out": f"{r.outstanding:,.2f}",
        }
        first = open_receivables.first()
        if first is not None:
            self.fields["receivable"].initial = first.pk
            self.fields["amount"].initial = first.outstanding
        self.fields["received_on"].initial = timezone.localdate()
        if is_manager(user):
            # T4: finance or a supervisor names the pusher — never themself.
            self.fields["pushed_by"].queryset = pusher_choices(deal, user)
        else:
            del self.fields["pushed_by"]

    def clean(self):
        data = super().clean()
        data.setdefault("pushed_by", None)
        return data


class StatementUploadForm(forms.Form):
    account = forms.ModelChoiceField(label=_("银行账户"), queryset=BankAccount.objects.filter(active=True), empty_label=_("请选择账户"))
    file = forms.FileField(label=_("流水文件（CSV / XLSX / XLS）"))


class AllocationForm(forms.Form):
    receivable = forms.ModelChoiceField(label=_("应收"), queryset=Receivable.objects.none(), required=False, empty_label=_("选择应收"))
    amount = forms.DecimalField(label=_("金额"), min_value=Decimal("0.01"), decimal_places=2, max_digits=14, required=False)

    def __init__(self, *args, receivables=None, **kwargs):
        super().__init__(*args, **kwargs)
        if receivables is not None:
            self.fields["receivable"].queryset = receivables
            self.fields["receivable"].label_from_instance = lambda r: _("%(number)s %(hospital)s 第%(n)d期 未收 ¥%(out)s") % {
                "number": r.deal.number,
                "hospital": r.deal.hospital.name,
                "n": r.sequence,
                "out": f"{r.outstanding:,.2f}",
            }

    def clean(self):
        data = super().clean()
        if bool(data.get("receivable")) != bool(data.get("amount")):
            raise forms.ValidationError(_("应收和金额需同时填写"))
        return data


AllocationFormSet = forms.formset_factory(AllocationForm, extra=3, max_num=6)
