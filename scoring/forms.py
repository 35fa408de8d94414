from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Behaviour


class DrillForm(forms.Form):
    """Board drill-down filters, all optional; a bad value is a 400 that names the field."""

    quarter = forms.RegexField(label=_("季度"), regex=r"^\d{4}-Q[1-4]$", required=False)
    customer = forms.IntegerField(label=_("客户"), min_value=1, required=False)
    rep = forms.IntegerField(label=_("销售"), min_value=1, required=False)
    behaviour = forms.ChoiceField(label=_("行为"), choices=Behaviour.choices, required=False)
    weekday = forms.IntegerField(label=_("星期"), min_value=1, max_value=7, required=False)
    hour = forms.IntegerField(label=_("小时"), min_value=0, max_value=23, required=False)
    slot = forms.DateTimeField(label=_("时段"), input_formats=["%Y-%m-%dT%H"], required=False)


class SplitCorrectionForm(forms.Form):
    reason = forms.CharField(label=_("更正原因"), max_length=300, widget=forms.Textarea(attrs={"rows": 2}))
    pool = forms.DecimalField(
        label=_("更正后的奖金池（留空则沿用原金额）"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.00"),
        required=False,
    )
