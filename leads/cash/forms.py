"""Forms name their fields; prices, totals, status and owners are set by the services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from salesops.models import Customer, Product

from .models import BankAccount, CashSettings, LostReason, Receivable

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
    """Confirming a quote closes the deal: the receivable plan comes with it."""

    instalments = forms.IntegerField(label=_("分期数"), min_value=1, max_value=24, initial=1)
    first_due = forms.DateField(label=_("首期到期日"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    months_apart = forms.IntegerField(label=_("每期间隔（月）"), min_value=1, max_value=12, initial=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["first_due"].initial = timezone.localdate() + timedelta(days=CashSettings.load().default_payment_days)


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
    pushed_by = UserChoiceField(label=_("回款推动人"), queryset=User.objects.none(), required=False, empty_label=_("（无，记在录入人名下）"))
    reference = forms.CharField(label=_("流水号/备注"), max_length=120, required=False)

    def __init__(self, *args, deal, user, **kwargs):
        super().__init__(*args, **kwargs)
        open_receivables = deal.receivables.open().order_by("sequence")
        self.fields["receivable"].queryset = open_receivables
        self.fields["receivable"].label_from_instance = lambda r: _("第 %(n)d 期 · 到期 %(due)s · 未收 ¥%(out)s") % {
            "n": r.sequence,
            "due": r.due_date,
            "out": f"{r.outstanding:,.2f}",
        }
        first = open_receivables.first()
        if first is not None:
            self.fields["receivable"].initial = first.pk
            self.fields["amount"].initial = first.outstanding
        self.fields["received_on"].initial = timezone.localdate()
        self.fields["pushed_by"].queryset = deal.reps.all().order_by("username")
        if deal.reps.filter(pk=user.pk).exists():
            self.fields["pushed_by"].initial = user.pk


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
