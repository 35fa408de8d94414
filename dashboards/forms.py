from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ReportKind
from .periods import today


class InterventionCloseForm(forms.Form):
    closing_note = forms.CharField(
        label=_("处理说明"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("做了什么、结果如何、后续安排")}),
        error_messages={"required": _("请填写处理说明。")},
    )

    def clean_closing_note(self) -> str:
        note = self.cleaned_data["closing_note"].strip()
        if not note:
            raise forms.ValidationError(_("请填写处理说明。"))
        return note


class ReportGenerateForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=ReportKind.choices, initial=ReportKind.DAILY)
    day = forms.DateField(label=_("日期"), widget=forms.DateInput(attrs={"type": "date"}), help_text=_("周报取该日所在的周"))

    def clean_day(self):
        day = self.cleaned_data["day"]
        if day > today():
            raise forms.ValidationError(_("不能生成未来日期的报表。"))
        return day
