"""Write services of the core app: validate, save with the acting user as the history user (A2)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext

from .access import is_manager, users_visible_to
from .models import Customer

CUSTOMER_EDITABLE_FIELDS = frozenset({"name", "department", "phone", "notes", "owner"})


@transaction.atomic
def customer_update(*, customer: Customer, data: dict, by) -> list[str]:
    """Change the given fields of a customer; returns the names of the fields that changed.

    The owner and supervisors may edit; only a manager reassigns the owner, and only to someone they
    can see. Nothing is saved (and no history row written) when nothing changed."""
    unknown = set(data) - CUSTOMER_EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable here: {', '.join(sorted(unknown))}")
    if not (is_manager(by) or customer.owner_id == by.pk):
        raise PermissionDenied
    changed = [name for name, value in data.items() if getattr(customer, name) != value]
    if not changed:
        return []
    if "owner" in changed:
        owner = data["owner"]
        if not is_manager(by) or (owner is not None and not users_visible_to(by).filter(pk=owner.pk).exists()):
            raise PermissionDenied
    department = data.get("department", customer.department)
    if "department" in changed and department is not None and department.hospital_id != customer.hospital_id:
        raise ValidationError({"department": gettext("科室不属于该客户的医院。")})
    for name in changed:
        setattr(customer, name, data[name])
    customer.full_clean()
    customer._history_user = by
    customer.save(update_fields=changed)
    return changed
