"""Field-change audit trail (A2) on top of django-simple-history: turn history rows into
"who, when, field, before → after" lines for a record's page."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

ACTIONS = {"+": gettext_noop("创建"), "~": gettext_noop("修改"), "-": gettext_noop("删除")}


def _field_label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except Exception:  # noqa: BLE001 - a removed field still has a name worth showing
        return name


def history_rows(obj, limit: int = 100) -> list[dict]:
    records = list(obj.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1])
    rows: list[dict] = []
    for index, record in enumerate(records[:limit]):
        who = record.history_user.get_full_name() or record.history_user.username if record.history_user else ""
        action = _(ACTIONS.get(record.history_type, record.history_type))
        previous = records[index + 1] if index + 1 < len(records) else None
        if record.history_type == "~" and previous is not None:
            delta = record.diff_against(previous)
            for change in delta.changes:
                rows.append(
                    {
                        "when": record.history_date,
                        "who": who,
                        "action": action,
                        "field": _field_label(obj.__class__, change.field),
                        # P2: history is read by everyone who sees the record — numbers in it are masked.
                        "before": _masked(change.old),
                        "after": _masked(change.new),
                    }
                )
            if not delta.changes:
                rows.append({"when": record.history_date, "who": who, "action": action, "field": "", "before": "", "after": ""})
        else:
            rows.append({"when": record.history_date, "who": who, "action": action, "field": "", "before": "", "after": ""})
    return rows


def _masked(value):
    from .privacy import mask_phones

    return mask_phones(value) if isinstance(value, str) else value
