"""The column-mapping form for a statement of an unknown layout (F1): the detected header cells and
sample rows, a pick per field, a preview of the parsed rows, and Save — which stores the layout for
the account and the header fingerprint and imports the statement again."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import access, layouts
from .bankfiles import FIELD_LABELS, StatementFileError, _parse_rows
from .models import StatementStatus

MODES = [
    ("split", gettext_lazy("收入、支出分两列")),
    ("signed", gettext_lazy("一列金额，负数为支出")),
    ("flagged", gettext_lazy("一列金额 + 收/支或借/贷列")),
    ("described", gettext_lazy("一列金额，摘要开头写收支（如“消费…”“退款…”）")),
]
OPTIONAL = ("time", "balance", "payer_name", "payer_account", "reference", "currency")


class LayoutForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("格式名称"), max_length=80)
    amount_mode = forms.ChoiceField(label=gettext_lazy("金额的写法"), choices=MODES, widget=forms.RadioSelect, initial="split")
    in_values = forms.CharField(label=gettext_lazy("表示收入的值"), required=False, help_text=gettext_lazy("多个用逗号分隔，如：收,贷"))
    out_values = forms.CharField(label=gettext_lazy("表示支出的值"), required=False, help_text=gettext_lazy("如：支,借"))
    negate = forms.BooleanField(label=gettext_lazy("金额按银行视角记账（正数为支出，如信用卡）"), required=False)
    memo = forms.MultipleChoiceField(label=FIELD_LABELS["memo"], required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, header: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        columns = [(str(i), name or _("（第 %(n)d 列）") % {"n": i + 1}) for i, name in enumerate(header)]
        blank = [("", _("（无）"))]
        for key in ("date", "money_in", "money_out", "amount", "direction", "description") + OPTIONAL:
            self.fields[key] = forms.ChoiceField(label=FIELD_LABELS[key], choices=blank + columns, required=False)
        self.fields["memo"].choices = columns
        self.order_fields(["name", "date", "amount_mode", "money_in", "money_out", "amount", "direction", "in_values", "out_values", "description", "negate", "memo"] + list(OPTIONAL))


@login_required
def statement_layout(request: HttpRequest, pk: int) -> HttpResponse:
    statement = access.get_statement_for_user(request, pk)
    unknown = layouts.unknown_layout_of(statement)
    if unknown is None or statement.status != StatementStatus.NEEDS_LAYOUT:
        messages.info(request, _("这份文件的格式已经可以识别，无需设置列映射。"))
        return redirect("cash:statement_detail", statement.pk)
    initial = {"name": f"{statement.account.name} · {statement.original_name}"[:80]}
    form = LayoutForm(request.POST or None, header=unknown.header, initial=initial)
    preview, column_map = None, None
    if request.method == "POST" and form.is_valid():
        try:
            column_map = layouts.column_map_from_choices(unknown.header, form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, "；".join(exc.messages))
        else:
            if "save" in request.POST:
                layouts.layout_save(statement=statement, name=form.cleaned_data["name"], column_map=column_map, by=request.user)
                messages.success(request, _("已保存格式「%(name)s」，正在重新导入；以后同样表头的文件会自动识别。") % {"name": form.cleaned_data["name"]})
                return redirect("cash:statement_detail", statement.pk)
            preview = _preview(statement, column_map, unknown)
    context = {"statement": statement, "unknown": unknown, "form": form, "preview": preview}
    return render(request, "cash/statement_layout.html", context, status=400 if form.errors else 200)


def _preview(statement, column_map: dict, unknown):
    """Parse the whole file with the picked map (nothing written) and show the first rows + errors."""
    from .bankfiles import _sheets

    try:
        sheets, _encoding = _sheets(layouts.statement_bytes(statement), statement.original_name)
    except StatementFileError as exc:
        return {"rows": [], "errors": [{"line": 0, "column": "", "value": "", "message": str(exc)}]}
    rows = dict(sheets).get(unknown.sheet) or sheets[0][1]
    result = _parse_rows(rows, unknown.header_line - 1, column_map)
    return {"rows": result.rows[:20], "count": len(result.rows), "errors": result.errors[:50], "error_count": len(result.errors)}
