"""Model-level guards for frozen records (T7): called from a model's save(), so every write path
— service, admin change form, simple_history's revert form, the shell — meets the same rule."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import models
from django.db.models import Q


class RecordIsFrozen(Exception):
    """A record past its editable stage (sent quote version, published rules, recorded money …)."""


def _stored(instance) -> dict | None:
    if instance._state.adding or instance.pk is None:
        return None
    model = type(instance)
    names = [field.attname for field in model._meta.concrete_fields]
    return model._base_manager.filter(pk=instance.pk).values(*names).first()


def refuse_frozen_change(
    instance,
    *,
    is_frozen: Callable[[dict], bool],
    mutable: Iterable[str] = (),
    back_to: tuple[str, object] | None = None,
) -> None:
    """Raise RecordIsFrozen when the stored row is frozen and a field outside `mutable` differs,
    or when `back_to` = (field, value) would set the field back to that (e.g. status → draft)."""
    stored = _stored(instance)
    if stored is None or not is_frozen(stored):
        return
    model = type(instance)
    if back_to is not None and getattr(instance, back_to[0]) == back_to[1] != stored[back_to[0]]:
        raise RecordIsFrozen(f"{model.__name__} {instance.pk}: {back_to[0]} cannot go back to {back_to[1]!r}")
    allowed = set(mutable)
    changed = [name for name in stored if name not in allowed and getattr(instance, name) != stored[name]]
    if changed:
        raise RecordIsFrozen(f"{model.__name__} {instance.pk} is frozen: {', '.join(sorted(changed))} cannot change")


def refuse_field_change(instance, fields: Iterable[str]) -> None:
    """Raise RecordIsFrozen when any of `fields` differs from the stored row."""
    stored = _stored(instance)
    if stored is None:
        return
    changed = [name for name in fields if getattr(instance, name) != stored.get(name)]
    if changed:
        raise RecordIsFrozen(f"{type(instance).__name__} {instance.pk}: {', '.join(sorted(changed))} never change")


def refuse_change_except_filling(instance, fill_once: Iterable[str] = ()) -> None:
    """Raise RecordIsFrozen when any stored field differs, except a field of `fill_once` that is
    still empty (None or "") in the stored row (named once, e.g. finance's approval or the pusher)."""
    stored = _stored(instance)
    if stored is None:
        return
    fillable = set(fill_once)
    changed = [
        name
        for name, value in stored.items()
        if getattr(instance, name) != value and not (name in fillable and value in (None, ""))
    ]
    if changed:
        raise RecordIsFrozen(f"{type(instance).__name__} {instance.pk}: {', '.join(sorted(changed))} never change")


class FactFieldsQuerySet(models.QuerySet):
    """T7: QuerySet.update()/bulk_update() refuse to touch the `fact_fields` (the record's facts,
    frozen once written); other columns (a note, a workflow status) still move."""

    fact_fields: tuple[str, ...] = ()

    def _refuse_facts(self, names) -> None:
        facts = {name.removesuffix("_id") for name in self.fact_fields}
        touched = sorted(facts & {name.removesuffix("_id") for name in names})
        if touched:
            raise RecordIsFrozen(f"{self.model.__name__}: {', '.join(touched)} never change")

    def update(self, **kwargs):
        self._refuse_facts(kwargs)
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, batch_size=None):
        self._refuse_facts(fields)
        return super().bulk_update(objs, fields, batch_size=batch_size)


class GuardedQuerySet(models.QuerySet):
    """T7: the bulk doors (QuerySet.update(), delete(), and bulk_update(), which updates through
    update()) refuse as soon as one targeted row is frozen; a frozen row changes through its
    service and save(), which keep the history. Subclasses return the frozen rows' Q from
    `frozen_rows()` (None: nothing frozen)."""

    def frozen_rows(self) -> Q | None:
        return None

    def _refuse_frozen(self, action: str) -> None:
        frozen = self.frozen_rows()
        if frozen is not None and self.filter(frozen).exists():
            raise RecordIsFrozen(f"{self.model.__name__}: {action} would change a frozen row; use its service")

    def update(self, **kwargs):
        self._refuse_frozen("update")
        return super().update(**kwargs)

    def delete(self):
        self._refuse_frozen("delete")
        return super().delete()

    def bulk_update(self, objs, fields, batch_size=None):
        # Checked before Django's own atomic block: a refusal must not poison the caller's transaction.
        objs = list(objs)
        frozen = self.frozen_rows()
        pks = [obj.pk for obj in objs if obj.pk is not None]
        if frozen is not None and pks and self.model._base_manager.filter(pk__in=pks).filter(frozen).exists():
            raise RecordIsFrozen(f"{self.model.__name__}: bulk_update would change a frozen row; use its service")
        return super().bulk_update(objs, fields, batch_size=batch_size)
