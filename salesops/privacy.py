"""Personal information (P2): phone numbers masked outside the people who need them.
(Written by the `shell` helper for exports; the privacy work extends this module.)"""

from __future__ import annotations

import re

DIGITS = re.compile(r"\d")


def mask_phone(value: str) -> str:
    """+8613900005678 / 139 0000 5678 → 139****5678; 0571-87654321 → 0571****4321; "" stays ""."""
    text = str(value or "")
    digits = "".join(DIGITS.findall(text))
    if not digits:
        return text
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 7:
        head = 4 if digits.startswith("0") and len(digits) >= 11 else 3
        return f"{digits[:head]}****{digits[-4:]}"
    return "****"
