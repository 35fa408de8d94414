"""Personal information (PIPL, P1–P5): one place for the rules about people's data.

- `mask_phone` / `mask_phones` — the one masking rule (P2): 139****5678, 0571****4321. Pages use
  the `mask_phone` / `phone_for` template filters (salesops/templatetags/privacy.py), exports and
  notifications call these functions.
- `may_see_full_phone` — the policy: the record's current owner, and the roles named in
  `PRIVACY_FULL_PHONE_ROLES` (default: none), see the full number; everyone else sees it masked
  and may reveal it with a deliberate POST that is logged.
- `access_log` — the append-only access log (P3) every view of a person's data writes.
- export / erasure of one person (P4) and retention (P5) live below.
"""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.utils.translation import gettext as _

from .privacy_models import PersonalData as PersonalDataSpec

# A CN mobile written any usual way (13800001111, 138 0000 1111, +86 138-0000-1111) or a landline.
PHONE_IN_TEXT = re.compile(
    r"(?<!\d)(?:\+?86[\s-]?)?(1\d{2})[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)|(?<![\d+])(?:\+86[\s-]?(?=[2-9])|(?=0))(0?\d{2,3})[\s-]?(\d{7,8})(?!\d)"
)


def mask_phone(value: str | None) -> str:
    """One number (E.164, national, with spaces or dashes) → 139****5678 / 0571****4321.
    Anything that is not a phone number is masked to its last four characters."""
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    if not text:
        return ""
    digits = re.sub(r"\D", "", text)
    if digits.startswith("86") and len(digits) > 11:
        digits = digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 9:  # a landline: area code (0 + 2–3 digits) and the last four
        if not digits.startswith("0"):
            digits = "0" + digits
        area = 3 if digits[1] in "12" else 4
        return f"{digits[:area]}****{digits[-4:]}"
    return "****" + digits[-4:] if len(digits) > 4 else "****"


def mask_phones(text: str | None) -> str:
    """Every phone number inside a text (a message, a report line) masked (P2, R2)."""

    def _mask(match: re.Match) -> str:
        if match.group(1):
            return f"{match.group(1)}****{match.group(3)}"
        area = match.group(4)
        if not area.startswith("0"):
            area = "0" + area
        return f"{area}****{match.group(5)[-4:]}"

    return PHONE_IN_TEXT.sub(_mask, text or "")


def full_phone_roles() -> tuple[str, ...]:
    """Roles that see every full number they can see at all (P2 policy; default none)."""
    return tuple(getattr(settings, "PRIVACY_FULL_PHONE_ROLES", ()))


def may_see_full_phone(user, owner_id: int | None) -> bool:
    """P2: the record's current owner, and the roles the policy names."""
    if user is None or not user.is_authenticated:
        return False
    if owner_id is not None and owner_id == user.pk:
        return True
    from .access import role_of

    return role_of(user) in full_phone_roles()


def phone_for(user, phone: str | None, owner_id: int | None) -> str:
    """The number as this user may see it: full (formatted) for the owner/policy roles, else masked."""
    if not phone:
        return ""
    if may_see_full_phone(user, owner_id):
        return format_phone(phone)
    return mask_phone(phone)


def phone_view(user, phone: str | None, owner_id: int | None, *, revealed: bool = False) -> dict:
    """What a template needs to show one number: the text, whether it is the full number, and a
    tel: target only when it is (a masked number must not hide the full one in a link)."""
    full = bool(phone) and (revealed or may_see_full_phone(user, owner_id))
    return {
        "shown": (format_phone(phone) if full else mask_phone(phone)) if phone else "",
        "full": full,
        "tel": phone if full else "",
    }


def format_phone(e164: str) -> str:
    """+8613800001111 → 138 0000 1111 for people."""
    import phonenumbers

    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, "CN"), phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        return e164


# --- P3: the access log ---------------------------------------------------------------------------


def client_ip_of(request) -> str:
    from .security import client_ip

    return client_ip(request)


def log_access(request_or_user, obj, action: str, *, path: str = "", ip: str | None = None) -> None:
    """Append one access-log row: who did `action` (view/reveal/export/download/erase) on whose data."""
    from django.contrib.contenttypes.models import ContentType

    from .models import AccessLog

    request = request_or_user if hasattr(request_or_user, "META") else None
    user = request.user if request is not None else request_or_user
    if request is not None:
        from .security import client_ip

        ip = ip or client_ip(request)
        path = path or request.get_full_path()[:300]
    try:
        import ipaddress

        ip = str(ipaddress.ip_address(ip)) if ip else None
    except ValueError:
        ip = None
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    AccessLog.objects.create(
        user=user if authenticated else None,
        username=user.get_username() if authenticated else "",
        action=action,
        subject_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
        subject_id=str(obj.pk),
        ip=ip,
        path=path[:300],
    )


def access_log_retention_days() -> int:
    return max(30, int(getattr(settings, "PRIVACY_ACCESS_LOG_RETENTION_DAYS", 3 * 365)))


def access_log_purge(now=None) -> int:
    """P3: rows older than the retention period go; nothing else ever removes or changes a row."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import AccessLog

    now = now or timezone.now()
    # The base manager's plain queryset: the model's own manager refuses deletes from features.
    deleted, _ = AccessLog._base_manager.filter(at__lt=now - timedelta(days=access_log_retention_days())).delete()
    return deleted


# --- P4: the person's data: where it is, export, erasure ----------------------------------------


def phone_variants(phone: str) -> list[str]:
    """The ways a number is written in our tables: E.164, national digits, spaced and dashed."""
    import phonenumbers

    try:
        number = phonenumbers.parse(unicodedata.normalize("NFKC", phone), "CN")
    except phonenumbers.NumberParseException:
        return [phone] if phone else []
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    digits = re.sub(r"\D", "", national)
    variants = {e164, digits, national, national.replace(" ", "-"), e164.lstrip("+")}
    if len(digits) == 11 and digits.startswith("1"):
        variants |= {f"{digits[:3]} {digits[3:7]} {digits[7:]}", f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"}
    elif digits.startswith("0"):
        area = 3 if digits[1] in "12" else 4
        variants |= {f"{digits[:area]}-{digits[area:]}", f"{digits[:area]} {digits[area:]}"}
    return sorted(variants, key=len, reverse=True)


def personal_models() -> list:
    from django.apps import apps

    return [model for model in apps.get_models() if isinstance(getattr(model, "personal_data", None), PersonalDataSpec)]


def _history_model(model):
    manager = getattr(model._meta, "simple_history_manager_attribute", None)
    return getattr(model, manager).model if manager else None


class PersonRows:
    """Every row that holds one person's data: {model: set of pks} (direct and through `via`)."""

    def __init__(self) -> None:
        self.rows: dict = {}
        self.phones: set[str] = set()
        self.names: set[str] = set()

    def add(self, model, pks) -> bool:
        known = self.rows.setdefault(model, set())
        new = set(pks) - known
        known |= new
        return bool(new)

    def items(self):
        return [(model, pks) for model, pks in self.rows.items() if pks]


def find_person(*, phone: str = "", contact_id: int | None = None) -> PersonRows:
    """P4: the person named by a phone number or a contact, across every model that declares
    `personal_data` (salesops/privacy_models.PersonalData)."""
    from .models import Contact

    found = PersonRows()
    if contact_id is not None:
        contact = Contact.objects.filter(pk=contact_id).first()
        if contact is None:
            return found
        found.add(Contact, [contact.pk])
        if contact.name:
            found.names.add(contact.name)
        if contact.phone:
            phone = contact.phone
    variants = phone_variants(phone) if phone else []
    models = personal_models()
    if variants:
        found.phones.update(variants)
        for model in models:
            for field in model.personal_data.phone:
                pks = list(model._base_manager.filter(**{f"{field}__in": variants}).values_list("pk", flat=True))
                found.add(model, pks)
    for _round in range(4):  # follow `via` links until nothing new: lead → attempts, contact → visits → needs
        changed = False
        for model in models:
            spec = model.personal_data
            if not spec.via:
                continue
            target = model._meta.get_field(spec.via).related_model
            target_pks = found.rows.get(target)
            if target_pks:
                pks = model._base_manager.filter(**{f"{spec.via}__in": target_pks}).values_list("pk", flat=True)
                changed |= found.add(model, pks)
        if not changed:
            break
    for model, pks in found.items():
        for field in model.personal_data.names:
            found.names.update(value for value in model._base_manager.filter(pk__in=pks).values_list(field, flat=True) if value)
    return found


def _row_dict(obj) -> dict:
    data = {}
    for field in obj._meta.concrete_fields:
        value = field.value_from_object(obj)
        if hasattr(value, "name") and not isinstance(value, str):  # a FieldFile
            value = value.name
        data[field.attname] = value
    return data


def personal_data_export(*, phone: str = "", contact_id: int | None = None, by=None, ip: str | None = None) -> dict:
    """P4: everything held on one person, machine-readable. Writes an `export` access-log row
    per record exported."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder
    from django.utils import timezone

    from .models import AccessLog

    found = find_person(phone=phone, contact_id=contact_id)
    records: dict[str, list] = {}
    context: dict[str, list] = {}
    logs = AccessLog.objects.none()
    from django.contrib.contenttypes.models import ContentType

    for model, pks in found.items():
        objects = list(model._base_manager.filter(pk__in=pks).order_by("pk"))
        records[model._meta.label] = [_row_dict(obj) for obj in objects]
        history = _history_model(model)
        if history is not None:
            records[history._meta.label] = [_row_dict(row) for row in history._base_manager.filter(id__in=pks).order_by("history_id")]
        for field in model.personal_data.context:
            related = model._meta.get_field(field).related_model
            ids = {getattr(obj, f"{field}_id") for obj in objects} - {None}
            rows = [_row_dict(row) for row in related._base_manager.filter(pk__in=ids).order_by("pk")]
            context.setdefault(related._meta.label, []).extend(row for row in rows if row not in context.get(related._meta.label, []))
        logs = logs | AccessLog.objects.filter(
            subject_type=ContentType.objects.get_for_model(model), subject_id__in=[str(pk) for pk in pks]
        )
    access_logs = [_row_dict(row) for row in logs.order_by("at", "pk")]
    if by is not None:
        for model, pks in found.items():
            for pk in pks:
                log_access(by, model(pk=pk), "export", ip=ip, path="personal_data export")
    document = {
        "generated_at": timezone.now(),
        "subject": {"phone": phone, "contact_id": contact_id},
        "records": records,
        "related": context,
        "access_logs": access_logs,
    }
    return json.loads(json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False))


def subject_hash(value: str) -> str:
    import hashlib
    import hmac

    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def pseudonym_phone(phone: str) -> str:
    return "ERASED-" + subject_hash(phone)[:10]  # fits every phone column (20)


def pseudonym_name(name: str) -> str:
    return "已匿名-" + subject_hash(name)[:6]


def _empty_like(field):
    from django.db import models

    if isinstance(field, models.JSONField):
        return field.get_default()
    return ""


def _pseudonymise_rows(model, pks, *, reason: str) -> int:
    """The declared fields of these rows, in the live table (with a history row saying why) and in
    every history row of them. The one sanctioned write around history (P4, P5)."""
    spec = model.personal_data
    changed = 0
    audited = _history_model(model) is not None
    for obj in model._base_manager.filter(pk__in=pks):
        values = {}
        for field in spec.phone:
            value = getattr(obj, field)
            if value and not value.startswith("ERASED-"):
                values[field] = pseudonym_phone(value)
        for field in spec.names:
            value = getattr(obj, field)
            if value and not value.startswith("已匿名-"):
                values[field] = pseudonym_name(value)
        for field in spec.text:
            values[field] = _empty_like(model._meta.get_field(field))
        if not values:  # a row that only links to the person (a visit, a need): kept as it is
            continue
        if any(f.name == "pseudonymised_at" for f in model._meta.concrete_fields):
            from django.utils import timezone

            values["pseudonymised_at"] = obj.pseudonymised_at or timezone.now()
        if audited:
            for field, value in values.items():
                setattr(obj, field, value)
            obj._change_reason = reason
            obj.save(update_fields=list(values))  # the history row records the erasure itself
        else:  # an append-only fact (a repeat contact): no save() door by design
            model._base_manager.filter(pk=obj.pk).update(**values)
        changed += 1
    history = _history_model(model)
    if history is not None:
        for row in history._base_manager.filter(id__in=pks):
            values = {field: pseudonym_phone(getattr(row, field)) for field in spec.phone if getattr(row, field) and not getattr(row, field).startswith("ERASED-")}
            values |= {field: pseudonym_name(getattr(row, field)) for field in spec.names if getattr(row, field) and not getattr(row, field).startswith("已匿名-")}
            values |= {field: _empty_like(history._meta.get_field(field)) for field in spec.text if hasattr(row, field)}
            if values:
                history._base_manager.filter(pk=row.pk).update(**values)
    return changed


def _replace_in(value, replacements: list[tuple[str, str]]):
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_replace_in(item, replacements) for item in value]
    if isinstance(value, dict):
        return {key: _replace_in(item, replacements) for key, item in value.items()}
    return value


def _sweep_text(phones: set[str], names: set[str]) -> int:
    """Any text column of any table that still carries the number (a notification body, a ledger
    fact, an import row, a history copy): the number — and in that text the person's names — are
    replaced by the pseudonyms."""
    from django.apps import apps
    from django.db import models
    from django.db.models import Q, TextField
    from django.db.models.functions import Cast

    if not phones:
        return 0
    pseudo = pseudonym_phone(sorted(phones)[0])
    replacements = [(variant, pseudo) for variant in sorted(phones, key=len, reverse=True)]
    replacements += [(name, pseudonym_name(name)) for name in sorted(names, key=len, reverse=True) if len(name) >= 2]
    touched = 0
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            # Django's own text types only: a third-party pickled/encrypted column cannot hold it in clear.
            plain = type(field).__module__.startswith("django.db.models")
            if not plain or not isinstance(field, (models.CharField, models.TextField, models.JSONField)) or field.primary_key:
                continue
            queryset = model._base_manager.all()
            if isinstance(field, models.JSONField):
                queryset = queryset.annotate(_as_text=Cast(field.name, TextField()))
                lookup = "_as_text__contains"
            else:
                lookup = f"{field.name}__contains"
            condition = Q()
            for variant in phones:
                condition |= Q(**{lookup: variant})
            for pk, value in queryset.filter(condition).values_list("pk", field.name):
                model._base_manager.filter(pk=pk).update(**{field.name: _replace_in(value, replacements)})
                touched += 1
    return touched


def personal_data_erase(*, phone: str = "", contact_id: int | None = None, by=None, reason: str = "request", ip: str | None = None):
    """P4: pseudonymise one person everywhere — live rows, their history rows, and any text that
    still carries the number — and record the erasure. Business records (deals, amounts, evidence
    files and hashes, points) are kept: only who the person was is gone."""
    from django.db import transaction

    from .models import ErasureRecord

    with transaction.atomic():
        found = find_person(phone=phone, contact_id=contact_id)
        counts = {}
        for model, pks in found.items():
            counts[model._meta.label] = _pseudonymise_rows(model, pks, reason=str(_("个人信息删除")))
        counts["text_sweep"] = _sweep_text(found.phones, found.names)
        from .search import compact_indexes

        compact_indexes()  # the search index's segments must not keep the old number's trigrams
        identity = phone_variants(phone)[-1] if phone else f"contact:{contact_id}"
        record = ErasureRecord.objects.create(by=by if by is not None and by.is_authenticated else None,
                                              reason=reason[:40], subject_hash=subject_hash(identity), counts=counts)
        if by is not None:
            log_access(by, record, "erase", ip=ip, path="personal_data erase")
    return record


# --- P5: retention ------------------------------------------------------------------------------


def closed_lead_retention_days() -> int:
    return max(30, int(getattr(settings, "PRIVACY_CLOSED_LEAD_RETENTION_DAYS", 2 * 365)))


def evidence_retention_days() -> int:
    return max(365, int(getattr(settings, "PRIVACY_EVIDENCE_RETENTION_DAYS", 10 * 365)))


def retention_run(now=None) -> dict[str, int]:
    """P5, daily (schedule `salesops.privacy_retention`): closed leads older than the period are
    pseudonymised (the lead, its repeats, attempts and robot calls, and their history); access-log
    rows past their own period are purged. Evidence files follow their own, longer period and are
    reported for review, never removed by this job (they back deals and points)."""
    from datetime import timedelta

    from django.apps import apps
    from django.db import transaction
    from django.utils import timezone

    now = now or timezone.now()
    Lead = apps.get_model("leads", "Lead")
    due = list(
        Lead.objects.filter(status__in=("converted", "closed"), pseudonymised_at__isnull=True,
                            closed_at__lt=now - timedelta(days=closed_lead_retention_days()))
        .order_by("pk").values_list("pk", flat=True)[:2000]
    )
    leads = 0
    for pk in due:
        with transaction.atomic():
            found = PersonRows()
            found.add(Lead, [pk])
            for model in personal_models():
                spec = model.personal_data
                if spec.via and model._meta.get_field(spec.via).related_model is Lead:
                    found.add(model, model._base_manager.filter(**{f"{spec.via}_id": pk}).values_list("pk", flat=True))
            for model, pks in found.items():
                _pseudonymise_rows(model, pks, reason=str(_("保存期限届满，匿名化")))
            leads += 1
    Evidence = apps.get_model("visits", "Evidence")
    evidence_due = Evidence.objects.filter(uploaded_at__lt=now - timedelta(days=evidence_retention_days())).count()
    return {"leads_pseudonymised": leads, "access_log_purged": access_log_purge(now), "evidence_past_retention": evidence_due}
