"""Forms of the core app. Forms name their fields; who owns what is decided by services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .access import is_manager, users_visible_to
from .imports import MAX_FILE_BYTES, ImportFileError, SheetInfo, inspect_upload, normalise_phone
from .models import Customer, Department, HospitalGrade, Rep


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Excel 或 CSV 文件（.xlsx、.xls、.csv）"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".xlsx,.xls,.xlsm,.ods,.csv,.txt"}
        ),
    )

    def __init__(self, *args, kind: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.sheet: SheetInfo | None = None

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                gettext("文件「%(name)s」超过 %(size)s MB。") % {"name": upload.name, "size": MAX_FILE_BYTES // 2**20}
            )
        try:
            self.sheet = inspect_upload(self.kind, upload.file, upload.name)
        except ImportFileError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return upload


class CustomerForm(forms.ModelForm):
    """What an owner or a supervisor may change on a customer. Only managers reassign the owner,
    and only to people they can see."""

    class Meta:
        model = Customer
        fields = ("name", "department", "phone", "notes", "owner")
        widgets = {"notes": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.filter(hospital=self.instance.hospital_id)
        if is_manager(user):
            owners = users_visible_to(user).filter(rep__isnull=False, is_active=True)
            self.fields["owner"].queryset = owners.order_by("username").distinct()
            self.fields["owner"].label_from_instance = lambda u: f"{u.get_full_name() or u.username}（{u.username}）"
        else:
            del self.fields["owner"]
        self.fields["phone"].help_text = _("手机号或带区号的固话，如 0571-87654321")

    def clean_phone(self) -> str:
        text = self.cleaned_data["phone"].strip()
        if not text:
            return ""
        phone = normalise_phone(text)
        if phone is None:
            raise forms.ValidationError(gettext("「%(value)s」不是有效的电话号码。") % {"value": text})
        return phone


class RepAdminForm(forms.ModelForm):
    """Rep profile in admin: the grades served as check boxes instead of a JSON list."""

    grades_served = forms.MultipleChoiceField(
        label=_("服务医院等级"),
        choices=HospitalGrade.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Rep
        fields = "__all__"

    def clean_grades_served(self) -> list[str]:
        # Stored in the order of the choices, so the same selection always looks the same in history.
        chosen = set(self.cleaned_data["grades_served"])
        return [value for value in HospitalGrade.values if value in chosen]
