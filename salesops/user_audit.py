"""Labels on user history rows (R9): a password change says so; a login stamp writes nothing.

simple_history writes a row on every save of the registered User. Two saves need help:
- a password change: the hash is excluded from history, so the row would show no difference —
  it gets the change reason "修改密码" (or "重设密码" through the e-mail link);
- `update_last_login` (every login): a history row per login would grow without bound and says
  nothing about a change; axes' access log already records logins.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver


@receiver(pre_save, sender=get_user_model(), dispatch_uid="salesops-user-audit")
def label_user_change(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) == {"last_login"}:
        instance.skip_history_when_saving = True
        return
    if instance.pk is None:
        return
    old = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if old is not None and old != instance.password and not getattr(instance, "_change_reason", None):
        instance._change_reason = "修改密码"


@receiver(post_save, sender=get_user_model(), dispatch_uid="salesops-user-audit-done")
def clear_login_skip(sender, instance, **kwargs) -> None:
    # Connected after simple_history's own receiver: the skip applied to this save only.
    instance.__dict__.pop("skip_history_when_saving", None)
