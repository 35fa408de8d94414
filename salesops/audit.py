"""Field-change audit trail (A2) on top of django-simple-history: turn history rows into
"who, when, field, before → after" lines for a record's page."""

from __future__ import annotations

from datetime import date, datetime

from django.db import models
from django.utils import formats, timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from .people import EMPTY, person_name

ACTIONS = {"+": gettext_noop("创建"), "~": gettext_noop("修改"), "-": gettext_noop("删除")}


def _field_label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except Exception:  # noqa: BLE001 - a removed field still has a name worth showing
        return name


def display_value(model, name: str, value, _cache: dict | None = None) -> str:
    """A history value as people read it (U8): the choice label, not `in_progress`; local time
    (Asia/Shanghai), not UTC; the related record's name, not its id; "—" for nothing."""
    if value is None or value == "" or value == []:
        return EMPTY
    try:
        field = model._meta.get_field(name)
    except Exception:  # noqa: BLE001 - a removed field: show the raw value
        return str(value)
    if getattr(field, "choices", None):
        labels = {str(key): label for key, label in field.flatchoices}
        return str(labels.get(str(value), value))
    if isinstance(field, models.BooleanField):
        return _("是") if value else _("否")
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return formats.date_format(value, "Y-m-d H:i:s")
    if isinstance(value, date):
        return formats.date_format(value, "Y-m-d")
    if isinstance(field, models.ManyToManyField):
        reverse_name = field.m2m_reverse_field_name()
        ids = [row.get(reverse_name) if isinstance(row, dict) else row for row in value]
        names = [_related_name(field, pk, _cache) for pk in ids if pk is not None]
        return "、".join(names) or EMPTY
    if isinstance(field, models.ForeignKey):
        if isinstance(value, models.Model):
            return person_name(value) if hasattr(value, "get_full_name") else str(value)
        return _related_name(field, value, _cache)
    return str(value)


def _related_name(field, pk, cache: dict | None) -> str:
    key = (field.related_model, pk)
    if cache is not None and key in cache:
        return cache[key]
    related = field.related_model._base_manager.filter(pk=pk).first()
    if related is None:
        name = _("已删除（#%(pk)s）") % {"pk": pk}
    else:
        name = person_name(related) if hasattr(related, "get_full_name") else str(related)
    if cache is not None:
        cache[key] = name
    return name


def historical_str(record) -> str:
    """The history row's name in lists (admin 审计日志): "客户 X · 2026-12-02 09:00", local time."""
    when = formats.date_format(timezone.localtime(record.history_date), "Y-m-d H:i:s") if record.history_date else ""
    return f"{record.instance} · {when}"


def localise_history_models() -> None:
    """simple_history names its models "historical 客户" and prints rows as "X as of <UTC time>",
    neither translatable: name them "客户（历史）" and print local time. Only the runtime _meta is
    touched (migrations read `original_attrs`), so no migration follows."""
    from django.apps import apps

    for model in apps.get_models():
        base = getattr(model, "instance_type", None)
        if base is None or not model.__name__.startswith("Historical"):
            continue
        model._meta.verbose_name = format_lazy("{}{}", base._meta.verbose_name, gettext_lazy("（历史）"))
        model._meta.verbose_name_plural = format_lazy("{}{}", base._meta.verbose_name_plural, gettext_lazy("（历史）"))
        if hasattr(model, "history_type"):  # m2m snapshot tables have no rows of their own to print
            model.__str__ = historical_str


def history_rows(obj, limit: int = 100) -> list[dict]:
    names: dict = {}
    records = list(obj.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1])
    rows: list[dict] = []
    for index, record in enumerate(records[:limit]):
        who = person_name(record.history_user, "")
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
                        # P2: history is read by everyone who sees the record — numbers in it are masked;
                        # U8: shown as people read it (labels, local time, names).
                        "before": _masked(display_value(obj.__class__, change.field, change.old, names)),
                        "after": _masked(display_value(obj.__class__, change.field, change.new, names)),
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
