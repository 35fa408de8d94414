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


def format_phone(e164: str) -> str:
    """+8613800001111 → 138 0000 1111 for people."""
    import phonenumbers

    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, "CN"), phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        return e164
