"""Forms of the lead pages. Ownership, status and scores are set by services, never posted."""

from __future__ import annotations

from django import forms
from django.utils.html import format_html_join
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from salesops.access import sees_everything, team_ids_of
from salesops.models import Role

from .models import AssignmentRules, ContactKind, ContactOutcome, LeadStatus

User = get_user_model()


class ContactAttemptForm(forms.Form):
    kind = forms.ChoiceField(label=_("方式"), choices=ContactKind.choices, initial=ContactKind.CALL)
    minutes = forms.IntegerField(label=_("通话分钟"), min_value=0, max_value=600, required=False, initial=0)
    seconds = forms.IntegerField(label=_("秒"), min_value=0, max_value=59, required=False, initial=0)
    outcome = forms.ChoiceField(
        label=_("结果"), choices=[c for c in ContactOutcome.choices if c[0] != ContactOutcome.ONSITE], initial=ContactOutcome.ANSWERED
    )
    note = forms.CharField(label=_("备注"), max_length=500, required=False)

    @property
    def duration_seconds(self) -> int:
        return (self.cleaned_data.get("minutes") or 0) * 60 + (self.cleaned_data.get("seconds") or 0)

    def clean(self):
        data = super().clean()
        if data.get("kind") == ContactKind.CALL and data.get("outcome") != ContactOutcome.ANSWERED and self.duration_seconds:
            self.add_error("minutes", _("未接通的电话没有通话时长"))
        return data


def reassignable_reps(user):
    """Reps a manager may hand a lead to: their teams' reps; everyone's for a director/ops."""
    reps = User.objects.filter(is_active=True, rep__role=Role.REP).select_related("rep", "rep__team")
    if not sees_everything(user):
        reps = reps.filter(rep__team__in=team_ids_of(user))
    return reps.order_by("rep__team__name", "username")


def _rep_label(full_name: str, username: str, team_name: str | None, on_duty: bool) -> str:
    state = "" if on_duty else f"（{_('不在岗')}）"
    return f"{full_name or username} · {team_name or ''}{state}"


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user) -> str:
        rep = user.rep
        return _rep_label(user.get_full_name(), user.username, rep.team.name if rep.team else "", rep.on_duty)


def reassign_options(user) -> str:
    """The `<option>`s of the shared reassign control (K1): the same reps and labels as
    `ReassignForm`, read as plain rows — hundreds of reps cost one query and no model instances."""
    rows = reassignable_reps(user).values_list("pk", "first_name", "last_name", "username", "rep__team__name", "rep__on_duty")
    return format_html_join(
        "",
        '<option value="{}">{}</option>',
        ((pk, _rep_label(f"{first} {last}".strip(), username, team, on_duty)) for pk, first, last, username, team, on_duty in rows),
    )


class ReassignForm(forms.Form):
    to = RepChoiceField(label=_("改派给"), queryset=User.objects.none())
    reason = forms.CharField(label=_("原因"), max_length=200)
    override = forms.BooleanField(
        label=_("仍然改派"), required=False,
        help_text=_("对方不在岗、休假、不在工作时间或待办已满时，系统会先提醒；确需改派请勾选并写明原因。"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = reassignable_reps(user)


class CloseForm(forms.Form):
    status = forms.ChoiceField(
        label=_("结果"), choices=[(LeadStatus.CONVERTED, LeadStatus.CONVERTED.label), (LeadStatus.CLOSED, LeadStatus.CLOSED.label)]
    )
    reason = forms.CharField(label=_("说明"), max_length=200, required=False)


class PasteForm(forms.Form):
    text = forms.CharField(
        label=_("粘贴微信群消息"),
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": "【线索响应】王主任 13800001111 AK-HIP-01 官网"}),
    )


class RulesDraftForm(forms.ModelForm):
    class Meta:
        model = AssignmentRules
        fields = (
            "weight_grade", "weight_product_line", "weight_workload", "weight_territory", "owner_policy", "tie_band",
            "ack_timeout_minutes", "dedupe_window_days", "note",
        )


class SimulateForm(forms.Form):
    n = forms.IntegerField(label=_("回放最近线索数"), min_value=1, max_value=1000, initial=200)
