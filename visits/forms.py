"""Forms name their fields; ownership, status, versions and hashes are set by the services."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.forms import BaseInlineFormSet, inlineformset_factory
from django.utils.translation import gettext_lazy as _

from salesops.access import users_visible_to
from salesops.models import Contact, Customer, Role

from .models import Evidence, ModuleKind, TemplateModule, VisitTask, VisitTemplate

User = get_user_model()


class NotesForm(forms.ModelForm):
    class Meta:
        model = VisitTask
        fields = ("demand_changes", "competitor_news", "next_action")
        widgets = {name: forms.Textarea(attrs={"rows": 2, "maxlength": 200}) for name in fields}


class EvidenceUploadForm(forms.Form):
    file = forms.FileField(label=_("文件"), allow_empty_file=True)
    correction_note = forms.CharField(label=_("更正说明"), max_length=200, required=False)
    # U2: a photo module holds several photos: a new one is added, or it corrects one of them.
    additional = forms.BooleanField(required=False, initial=True, widget=forms.HiddenInput)
    replaces = forms.ModelChoiceField(label=_("更正哪一张"), queryset=Evidence.objects.none(), required=False, empty_label=_("新增一张"))

    def __init__(self, *args, module: TemplateModule | None = None, task: VisitTask | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if module is not None and task is not None and module.kind == ModuleKind.PHOTO:
            superseded = Evidence.objects.filter(task=task, module=module, supersedes__isnull=False).values("supersedes")
            self.fields["replaces"].queryset = Evidence.objects.filter(task=task, module=module).exclude(pk__in=superseded)
            self.fields["replaces"].label_from_instance = lambda item: _("更正 v%(v)d") % {"v": item.version}
        if module is not None:
            accept = {
                ModuleKind.PHOTO: "image/*",
                ModuleKind.VOICE_MEMO: "audio/*",
            }.get(module.kind, "application/pdf")
            attrs = {"accept": accept}
            if module.kind == ModuleKind.PHOTO:
                attrs["capture"] = "environment"  # the phone opens its rear camera
            self.fields["file"].widget.attrs.update(attrs)
            self.fields["file"].label = module.label


class NeedsForm(forms.Form):
    """N rows of (choice from the list, ≤ 10 characters of free text)."""

    def __init__(self, *args, module: TemplateModule, initial_needs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.module = module
        choices = [("", _("请选择"))] + [(choice, choice) for choice in module.choices]
        limit = min(module.free_text_max, 10)
        initial_needs = list(initial_needs)
        for index in range(1, module.needs_count + 1):
            need = initial_needs[index - 1] if index - 1 < len(initial_needs) else None
            self.fields[f"choice_{index}"] = forms.ChoiceField(
                label=_("需求 %(n)d") % {"n": index}, choices=choices, required=False, initial=need.choice if need else ""
            )
            self.fields[f"text_{index}"] = forms.CharField(
                label=_("补充（≤%(n)d 字）") % {"n": limit},
                required=False,
                max_length=limit,
                initial=need.free_text if need else "",
                widget=forms.TextInput(attrs={"maxlength": limit}),
            )

    def rows(self):
        return [(self[f"choice_{i}"], self[f"text_{i}"]) for i in range(1, self.module.needs_count + 1)]

    def items(self) -> list[tuple[str, str]]:
        return [
            (self.cleaned_data.get(f"choice_{i}", ""), self.cleaned_data.get(f"text_{i}", ""))
            for i in range(1, self.module.needs_count + 1)
        ]


class VisitChoiceForm(forms.Form):
    """Customer, contact and template, limited to what the user may see and use."""

    customer = forms.ModelChoiceField(label=_("客户"), queryset=Customer.objects.none())
    contact = forms.ModelChoiceField(label=_("拜访对象"), queryset=Contact.objects.none(), required=False)
    template = forms.ModelChoiceField(label=_("任务包"), queryset=VisitTemplate.objects.none())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        customers = Customer.objects.visible_to(user).select_related("hospital")
        self.fields["customer"].queryset = customers
        self.fields["contact"].queryset = Contact.objects.filter(customer__in=customers)
        self.fields["template"].queryset = VisitTemplate.objects.usable_by(user)

    def clean(self):
        data = super().clean()
        contact, customer = data.get("contact"), data.get("customer")
        if contact and customer and contact.customer_id != customer.pk:
            self.add_error("contact", _("拜访对象不属于这个客户。"))
        return data


class TaskCreateForm(VisitChoiceForm):
    rep = forms.ModelChoiceField(label=_("销售"), queryset=User.objects.none())
    due_date = forms.DateField(label=_("计划日期"), widget=forms.DateInput(attrs={"type": "date"}))
    field_order = ("rep", "customer", "contact", "template", "due_date")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["rep"].queryset = (
            users_visible_to(user).filter(rep__role__in=(Role.REP, Role.SUPERVISOR)).order_by("username")
        )
        self.fields["rep"].label_from_instance = lambda u: u.get_full_name() or u.username


class StartVisitForm(VisitChoiceForm):
    """开始拜访 (V7): the rep picks the customer (pre-filled from the phone's position)."""

    latitude = forms.FloatField(required=False, widget=forms.HiddenInput)
    longitude = forms.FloatField(required=False, widget=forms.HiddenInput)


class TemplateForm(forms.ModelForm):
    class Meta:
        model = VisitTemplate
        fields = ("name", "description", "is_solution_demo", "active")
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class ModuleForm(forms.ModelForm):
    choices_text = forms.CharField(
        label=_("需求选项（每行一个）"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    class Meta:
        model = TemplateModule
        fields = ("position", "kind", "label", "required", "needs_count", "free_text_max")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["choices_text"].initial = "\n".join(self.instance.choices)
        self.fields["free_text_max"].max_value = 10
        self.fields["free_text_max"].widget.attrs["max"] = 10

    def clean_free_text_max(self):
        value = self.cleaned_data["free_text_max"]
        if value > 10:
            raise forms.ValidationError(_("补充说明最多 10 个字。"))
        return value

    def clean(self):
        data = super().clean()
        lines = [line.strip() for line in (data.get("choices_text") or "").splitlines() if line.strip()]
        self.instance.choices = lines
        return data


class PolicyModuleFormSet(BaseInlineFormSet):
    """T1: a template that can earn a scored behaviour keeps the evidence the company policy
    demands as required modules — whoever edits it (template page or admin)."""

    def clean(self):
        super().clean()
        from .services import template_policy_problems

        modules = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE"):
                continue
            modules.append((data.get("kind"), bool(data.get("required")), data.get("needs_count") or 0))
        problems = template_policy_problems(is_solution_demo=bool(self.instance.is_solution_demo), modules=modules)
        if problems:
            raise forms.ValidationError(problems)


ModuleFormSet = inlineformset_factory(
    VisitTemplate, TemplateModule, form=ModuleForm, formset=PolicyModuleFormSet, extra=1, can_delete=False
)
