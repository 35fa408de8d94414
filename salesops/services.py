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


@transaction.atomic
def contact_title_verify(*, contact, title: str, by):
    """T3: ops, a director, or the supervisor of the customer's team confirms (or corrects) a
    contact's title. What a rep types stays a claim until this runs; history keeps who and when."""
    from django.utils import timezone

    from .access import role_of
    from .models import Contact, ContactTitle, Role

    role = role_of(by)
    if role not in (Role.OPS, Role.DIRECTOR, Role.SUPERVISOR):
        raise PermissionDenied(gettext("只有运营、主管或总监可以核实联系人职务。"))
    if role == Role.SUPERVISOR and not Customer.objects.visible_to(by).filter(pk=contact.customer_id).exists():
        raise PermissionDenied(gettext("只能核实本团队客户的联系人。"))
    if title not in ContactTitle.values:
        raise ValidationError({"title": gettext("未知的职务：%(title)s") % {"title": str(title)[:20]}})
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    contact.title = title
    contact.title_verified_as = title
    contact.title_verified_by = by
    contact.title_verified_at = timezone.now()
    contact._history_user = by
    contact.save(update_fields=["title", "title_verified_as", "title_verified_by", "title_verified_at"])
    return contact
