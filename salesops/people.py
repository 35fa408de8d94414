"""One rule for showing a person (A6, U8): full name, else the login name, else a fallback for
"nobody" (an owner cleared, a row the scheduler wrote, a deleted account). Templates use the
built-in `|person` filter (salesops.templatetags.people), Python code calls `person_name`."""

from __future__ import annotations

EMPTY = "—"


def person_name(user, fallback: str = EMPTY) -> str:
    if user is None or not hasattr(user, "get_full_name"):
        return fallback
    return user.get_full_name() or user.get_username() or fallback
