"""Lead input: validation shared by the API, the public form and the WeChat paste (L1, L2, L3).

Everything that arrives is turned into an `IntakeData` or into errors that name the field (API,
form) or the line (paste). Phone numbers are normalised to E.164 (CN) here, so dedupe compares
like with like.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import phonenumbers
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from salesops.models import ConsentBasis, Hospital, HospitalGrade, PrivacyNotice, Product
from salesops.params import parse_int
from salesops.privacy import format_phone  # noqa: F401 — re-exported: the one formatting rule

from .models import LeadSource, SourceConsent, one_or_none

MAX_NOTE = 2000

GRADE_ALIASES = {
    "3a": HospitalGrade.GRADE_3A, "三甲": HospitalGrade.GRADE_3A, "三级甲等": HospitalGrade.GRADE_3A,
    "2a": HospitalGrade.GRADE_2A, "二甲": HospitalGrade.GRADE_2A, "二级甲等": HospitalGrade.GRADE_2A,
    "private": HospitalGrade.PRIVATE, "民营": HospitalGrade.PRIVATE, "私立": HospitalGrade.PRIVATE,
}
SOURCE_ALIASES = {
    "官网": LeadSource.WEBSITE, "网站": LeadSource.WEBSITE, "官网表单": LeadSource.WEB_FORM, "表单": LeadSource.WEB_FORM,
    "微信": LeadSource.WECHAT, "微信群": LeadSource.WECHAT, "公众号": LeadSource.WECHAT,
    "电话": LeadSource.PHONE, "来电": LeadSource.PHONE, "400电话": LeadSource.PHONE,
    "展会": LeadSource.EXHIBITION, "会议": LeadSource.EXHIBITION, "学术会": LeadSource.EXHIBITION,
    "转介绍": LeadSource.REFERRAL, "介绍": LeadSource.REFERRAL, "老客户介绍": LeadSource.REFERRAL, "老客户转介绍": LeadSource.REFERRAL,
    "自拓": LeadSource.REP, "销售自拓": LeadSource.REP, "陌拜": LeadSource.REP, "扫楼": LeadSource.REP,
    "其他": LeadSource.OTHER,
}


def normalize_phone(raw: str) -> str:
    """A CN mobile or landline in any usual writing (full-width digits, +86/0086, dashes, spaces)
    → E.164. Raises ValidationError with a message naming what is wrong."""
    text = unicodedata.normalize("NFKC", str(raw or "")).strip()
    if not text:
        raise ValidationError(_("请填写电话"), code="required")
    if len(text) > 32 or not re.fullmatch(r"[0-9+()\-\s.]+", text):
        raise ValidationError(_("电话只能包含数字、空格、+ 和 -：%(value)s"), params={"value": text[:32]}, code="invalid")
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise ValidationError(_("不是有效的电话号码：%(value)s"), params={"value": text}, code="invalid") from None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        raise ValidationError(_("不是有效的中国大陆电话号码：%(value)s"), params={"value": text}, code="invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_grade(raw: str) -> str:
    text = unicodedata.normalize("NFKC", str(raw or "")).strip()
    if not text:
        return ""
    grade = GRADE_ALIASES.get(text.lower()) or GRADE_ALIASES.get(text)
    if grade is None:
        raise ValidationError(
            _("未知的医院等级：%(value)s（可用：3A/三甲、2A/二甲、private/民营）"), params={"value": text[:20]}, code="invalid"
        )
    return str(grade)


def parse_source(raw: str, *, default: str = LeadSource.WEBSITE, strict: bool = True) -> str:
    text = unicodedata.normalize("NFKC", str(raw or "")).strip()
    if not text:
        return str(default)
    if text in LeadSource.values:
        return text
    if text in SOURCE_ALIASES:
        return str(SOURCE_ALIASES[text])
    if strict:
        raise ValidationError(
            _("未知的来源渠道：%(value)s（可用：%(choices)s）"),
            params={"value": text[:20], "choices": ", ".join(LeadSource.values)},
            code="invalid",
        )
    return str(LeadSource.OTHER)


def find_product(model_number: str) -> Product | None:
    text = unicodedata.normalize("NFKC", model_number or "").strip()
    if not text:
        return None
    return one_or_none(Product.objects.select_related("line").filter(model_number__iexact=text))


def normalize_name(value: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value or ""))


@dataclass
class IntakeData:
    """A validated lead as it arrived, before dedupe and assignment."""

    contact_name: str
    phone: str  # E.164
    product_model: str = ""
    product: Product | None = None
    hospital: Hospital | None = None
    hospital_name: str = ""
    hospital_grade: str = ""
    source: str = LeadSource.WEBSITE
    note: str = ""
    warnings: list[str] = field(default_factory=list)
    # P1: what the person consented to, when, through which channel — or the channel's basis.
    consent_basis: str = ""
    consent_version: str = ""
    consent_given_at: datetime | None = None
    consent_channel: str = ""

    @property
    def source_label(self) -> str:
        return str(LeadSource(self.source).label)


def consent_missing_message() -> str:
    return _("缺少本人同意记录：请随附 consent（version 隐私说明版本、given_at 同意时间、channel 同意渠道）")


def parse_consent(value) -> tuple[str, datetime, str]:
    """`{"version", "given_at", "channel"}` of the API (P1) → (version, aware time, channel).
    Raises ValidationError naming what is wrong, in Chinese."""
    if not isinstance(value, dict):
        raise ValidationError(_("consent 应为对象：{\"version\", \"given_at\", \"channel\"}"), code="invalid")
    version = str(value.get("version") or "").strip()
    channel = str(value.get("channel") or "").strip()
    raw_time = value.get("given_at")
    problems = []
    if not version:
        problems.append(_("缺少 version（隐私说明版本）"))
    elif not PrivacyNotice.objects.filter(version=version).exists() and version != PrivacyNotice.current().version:
        problems.append(_("未知的隐私说明版本：%(value)s") % {"value": version[:20]})
    given_at = parse_datetime(raw_time) if isinstance(raw_time, str) and len(raw_time) <= 40 else None
    if given_at is None:
        problems.append(_("given_at 应为 ISO 8601 时间，如 2026-12-02T10:00:00+08:00"))
    else:
        if timezone.is_naive(given_at):
            given_at = timezone.make_aware(given_at)
        if given_at > timezone.now() + timedelta(minutes=5):
            problems.append(_("given_at 不能晚于当前时间"))
    if not channel:
        problems.append(_("缺少 channel（同意渠道，如 website）"))
    elif len(channel) > 40:
        problems.append(_("channel 最多 40 个字符"))
    if problems:
        raise ValidationError("；".join(str(p) for p in problems), code="invalid")
    return version, given_at, channel


class ConsentField(forms.Field):
    """The API's `consent` object; required unless the source collects consent elsewhere (form.clean)."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        return None if value in (None, "", {}) else value

    def clean(self, value):
        value = self.to_python(value)
        return None if value is None else parse_consent(value)


class LeadIntakeForm(forms.Form):
    """The body of `POST /api/v1/leads` and of the public form. Errors are keyed by the API's
    field names, so a 400 names exactly the fields to fix."""

    name = forms.CharField(label=gettext_lazy("客户名"), max_length=80)
    phone = forms.CharField(label=gettext_lazy("电话"), max_length=40)
    product_model = forms.CharField(label=gettext_lazy("意向型号"), max_length=60, required=False)
    hospital = forms.CharField(label=gettext_lazy("医院"), max_length=120, required=False, help_text=gettext_lazy("医院名称或编号"))
    hospital_grade = forms.CharField(label=gettext_lazy("医院等级"), max_length=20, required=False)
    source = forms.CharField(label=gettext_lazy("来源渠道"), max_length=20, required=False)
    note = forms.CharField(label=gettext_lazy("备注"), max_length=MAX_NOTE, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    consent = ConsentField(label=gettext_lazy("本人同意"))

    default_source = LeadSource.WEBSITE

    def clean(self):
        data = super().clean()
        source = data.get("source")
        if source and "consent" not in self.errors and data.get("consent") is None and not SourceConsent.collected_elsewhere_for(source):
            self.add_error("consent", consent_missing_message())
        return data

    def clean_name(self) -> str:
        name = unicodedata.normalize("NFKC", self.cleaned_data["name"]).strip()
        if not name:
            raise ValidationError(_("请填写客户名"), code="required")
        return name

    def clean_phone(self) -> str:
        return normalize_phone(self.cleaned_data["phone"])

    def clean_hospital_grade(self) -> str:
        return parse_grade(self.cleaned_data.get("hospital_grade", ""))

    def clean_source(self) -> str:
        return parse_source(self.cleaned_data.get("source", ""), default=self.default_source)

    def clean_hospital(self) -> tuple[Hospital | None, str]:
        text = unicodedata.normalize("NFKC", self.cleaned_data.get("hospital", "")).strip()
        if not text:
            return None, ""
        number = parse_int(text, minimum=1) if text.isdigit() else None  # "፩".isdigit() is True too
        if text.isdigit():
            hospital = one_or_none(Hospital.objects.filter(pk=number)) if number is not None else None
            if hospital is None:
                raise ValidationError(_("没有编号为 %(value)s 的医院"), params={"value": text}, code="invalid")
            return hospital, hospital.name
        return one_or_none(Hospital.objects.filter(name=text)), text

    def intake_data(self) -> IntakeData:
        data = self.cleaned_data
        hospital, hospital_name = data["hospital"]
        product = find_product(data.get("product_model", ""))
        grade = hospital.grade if hospital else data.get("hospital_grade", "")
        consent = data.get("consent")
        basis = {}
        if consent:
            version, given_at, channel = consent
            basis = {"consent_basis": ConsentBasis.NOTICE, "consent_version": version, "consent_given_at": given_at, "consent_channel": channel}
        return IntakeData(
            **basis,
            contact_name=data["name"],
            phone=data["phone"],
            product_model=product.model_number if product else data.get("product_model", "").strip(),
            product=product,
            hospital=hospital,
            hospital_name=hospital_name,
            hospital_grade=grade,
            source=data["source"],
            note=data.get("note", "").strip(),
        )


class PublicLeadForm(LeadIntakeForm):
    """The embeddable website form. `website` is a honeypot: hidden from people, filled by bots."""

    default_source = LeadSource.WEB_FORM
    website = forms.CharField(required=False, label="Website", widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hospital_grade"] = forms.ChoiceField(
            label=gettext_lazy("医院等级"), required=False, choices=[("", "—"), *HospitalGrade.choices]
        )
        self.fields["product_model"].widget = forms.TextInput(attrs={"list": "product-models"})
        del self.fields["source"]
        # P1: the notice is shown above the box; the version the person saw travels with the form.
        self.notice = PrivacyNotice.current()
        self.fields["consent"] = forms.BooleanField(
            label=gettext_lazy("我已阅读并同意《个人信息保护说明》，同意贵公司为联系我而处理上述信息"),
            error_messages={"required": gettext_lazy("请阅读并勾选同意《个人信息保护说明》后再提交")},
        )
        self.fields["notice_version"] = forms.CharField(widget=forms.HiddenInput, required=False, initial=self.notice.version, max_length=20)

    def clean_source(self) -> str:
        return str(LeadSource.WEB_FORM)

    def clean_notice_version(self) -> str:
        version = (self.cleaned_data.get("notice_version") or "").strip()
        if version and version != self.notice.version and not PrivacyNotice.objects.filter(version=version).exists():
            return self.notice.version
        return version or self.notice.version

    def clean(self):
        data = super().clean()
        data["source"] = str(LeadSource.WEB_FORM)
        if data.get("consent") is True:
            data["consent"] = (data.get("notice_version") or self.notice.version, timezone.now(), str(LeadSource.WEB_FORM))
        return data

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))


# --- WeChat paste (L2) -------------------------------------------------------------------------

# 【线索响应】王主任 13800001111 AK-HIP-01 官网 — full-width or half-width brackets and spaces.
LINE_PREFIX = re.compile(r"^\s*[【\[［]\s*线索响应\s*[】\]］]\s*")
PHONE_CHUNK = re.compile(r"[0-9+()\-.]+")


@dataclass
class PastedLine:
    number: int
    raw: str
    data: IntakeData | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.data is not None and not self.errors


class HospitalMatcher:
    """Finds a known hospital named at the start of a customer name ("浙江省人民医院骨科王主任")."""

    def __init__(self) -> None:
        self.hospitals = sorted(Hospital.objects.only("pk", "name", "grade"), key=lambda h: -len(h.name))

    def match(self, text: str) -> Hospital | None:
        return next((hospital for hospital in self.hospitals if hospital.name in text), None)


def parse_wechat_text(text: str, *, max_lines: int = 500) -> list[PastedLine]:
    """Every non-empty line becomes a lead (data) or a line-level error. Nothing is dropped."""
    lines: list[PastedLine] = []
    matcher: HospitalMatcher | None = None
    products = {p.model_number.upper(): p for p in Product.objects.select_related("line")}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        if not raw.strip():
            continue
        line = PastedLine(number=number, raw=raw.strip())
        lines.append(line)
        if len(lines) > max_lines:
            line.errors.append(_("一次最多 %(n)s 行，请分批粘贴") % {"n": max_lines})
            continue
        # NFKC turns full-width digits, letters, ［］ and the ideographic space into ASCII.
        normalized = unicodedata.normalize("NFKC", raw)
        match = LINE_PREFIX.match(normalized)
        if not match:
            line.errors.append(_("不是【线索响应】格式：应为 【线索响应】客户名 电话 意向型号 来源渠道"))
            continue
        parts = normalized[match.end():].split()
        if len(parts) < 4:
            missing = [_("客户名"), _("电话"), _("意向型号"), _("来源渠道")][len(parts):]
            line.errors.append(_("缺少：%(fields)s") % {"fields": "、".join(str(m) for m in missing)})
            continue
        # Model and source are the last two words; before them the phone, which may itself be
        # written with spaces ("+86 139 0000 2222"); the rest is the name ("张 主任" too).
        model, source_raw, head = parts[-2], parts[-1], parts[:-2]
        split = len(head)
        while split > 1 and PHONE_CHUNK.fullmatch(head[split - 1]):
            split -= 1
        if split == len(head):  # no phone-like word: report it as the phone error it is
            split = len(head) - 1
        name, phone_raw = " ".join(head[:split]), " ".join(head[split:])
        try:
            phone = normalize_phone(phone_raw)
        except ValidationError as exc:
            line.errors.append(_("电话：%(error)s") % {"error": " ".join(exc.messages)})
            continue
        if len(name) > 80:
            line.errors.append(_("客户名过长（最多 80 字）"))
            continue
        data = IntakeData(contact_name=name, phone=phone, source=parse_source(source_raw, default=LeadSource.WECHAT, strict=False))
        product = products.get(model.upper())
        if product:
            data.product, data.product_model = product, product.model_number
        else:
            data.product_model = model[:60]
            data.warnings.append(_("未识别的型号 %(model)s：不参与产品线匹配") % {"model": model[:60]})
        if data.source == LeadSource.OTHER and source_raw not in ("其他", "other"):
            data.note = _("来源：%(source)s") % {"source": source_raw[:40]}
            data.warnings.append(_("未识别的来源渠道 %(source)s：记为「其他」") % {"source": source_raw[:40]})
        matcher = matcher or HospitalMatcher()
        hospital = matcher.match(name)
        if hospital:
            data.hospital, data.hospital_name, data.hospital_grade = hospital, hospital.name, hospital.grade
        line.data = data
    return lines
