"""Personal-information records (PIPL, P1–P4): the privacy notice people consent to, the access log
of who looked at a person's data, and the record of each erasure.

Imported by `salesops/models.py` (so Django registers them in the `salesops` app); the rules that
read and write them live in `salesops/privacy.py`.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

DEFAULT_NOTICE_VERSION = "v1"
DEFAULT_NOTICE_TEXT = (
    "我们收集您填写的姓名、电话、医院与意向产品，仅用于联系您介绍产品与安排服务。"
    "您的电话只对负责您的销售完整显示，其他同事看到的是遮挡后的号码，每次查看都有记录。"
    "线索关闭后超过保存期限的个人信息将被匿名化处理。"
    "您可以随时联系我们查询、导出或删除您的个人信息。"
)


class ConsentBasis(models.TextChoices):
    """How the consent for a person's data was obtained (P1)."""

    NOTICE = "notice", _("本人勾选同意隐私说明")
    ELSEWHERE = "elsewhere", _("渠道已另行取得同意")
    IMPORT = "import", _("批量导入（来源方已取得同意）")


class PrivacyNotice(models.Model):
    """One version of the privacy notice shown on the public form (P1). Ops edit it in admin;
    the newest active version is the one shown; every lead keeps the version it consented to."""

    version = models.CharField(_("版本"), max_length=20, unique=True)
    text = models.TextField(_("说明内容"))
    active = models.BooleanField(_("启用"), default=True)
    published_at = models.DateTimeField(_("发布时间"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-published_at", "-pk"]
        verbose_name = verbose_name_plural = _("隐私说明")

    def __str__(self) -> str:
        return self.version

    @classmethod
    def current(cls) -> "PrivacyNotice":
        """The version shown now. Without any row (a flushed database) the shipped default, unsaved:
        reading the notice never writes (the public form must render while the database is busy)."""
        notice = cls.objects.filter(active=True, published_at__lte=timezone.now()).order_by("-published_at", "-pk").first()
        return notice or cls(version=DEFAULT_NOTICE_VERSION, text=DEFAULT_NOTICE_TEXT)


class RecordIsAppendOnly(Exception):
    """Raised when code tries to change or delete a record that is a fact once written (the access
    log, erasure records, assignment decisions, webhook receipts, …): one exception for every app."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise RecordIsAppendOnly(f"{self.model.__name__} rows are never updated")

    def delete(self):
        raise RecordIsAppendOnly(f"{self.model.__name__} rows are never deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise RecordIsAppendOnly(f"{self.model.__name__} rows are never updated")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RecordIsAppendOnly(f"{self.__class__.__name__} rows are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RecordIsAppendOnly(f"{self.__class__.__name__} rows are never deleted")


class AccessAction(models.TextChoices):
    VIEW = "view", _("查看")
    REVEAL = "reveal", _("显示完整号码")
    EXPORT = "export", _("导出")
    DOWNLOAD = "download", _("下载文件")
    ERASE = "erase", _("删除（匿名化）")


class AccessLog(AppendOnly):
    """P3: who looked at whose personal data, when, from where. Append-only (the row is its own
    history); read-only in admin for the data-protection role; old rows are purged only by the
    retention job (`salesops.privacy.access_log_purge`), never edited."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("查看人")
    )
    username = models.CharField(_("账号"), max_length=150, blank=True)
    action = models.CharField(_("操作"), max_length=10, choices=AccessAction.choices)
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, verbose_name=_("对象类型"))
    subject_id = models.CharField(_("对象编号"), max_length=64)
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    path = models.CharField(_("页面"), max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["subject_type", "subject_id", "at"], name="accesslog_subject")]
        permissions = [("view_personal_data_log", _("可查阅个人信息访问日志"))]
        verbose_name = verbose_name_plural = _("个人信息访问日志")

    def __str__(self) -> str:
        return f"{self.username} {self.get_action_display()} {self.subject_type.model}#{self.subject_id}"


class ErasureRecord(AppendOnly):
    """P4: that an erasure happened, by whom and what it touched — without the erased data. The
    person is identified by a keyed hash only, so a repeated request can be matched."""

    at = models.DateTimeField(_("时间"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("执行人")
    )
    reason = models.CharField(_("依据"), max_length=40)
    subject_hash = models.CharField(_("个人标识（哈希）"), max_length=64, db_index=True)
    counts = models.JSONField(_("处理行数"), default=dict)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = verbose_name_plural = _("个人信息删除记录")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.reason}"


# A fact once written is its own history (read by tests/salesops/test_audit.py).
AccessLog._meta.append_only = True
ErasureRecord._meta.append_only = True


class PersonalData:
    """Declares where a model keeps personal data (P4, P5), read by `salesops.privacy`:

    - `phone`: fields that identify the person by number (a lead, a contact);
    - `names` / `text`: the person's name and free text about them — pseudonymised / cleared;
    - `via`: a FK to a model that holds a person (an attempt of a lead, a visit with a contact):
      the row belongs to that person too;
    - `context`: FKs exported alongside (the customer a contact works at) but never erased.
    """

    def __init__(self, *, phone=(), names=(), text=(), via: str = "", context=()):
        self.phone, self.names, self.text, self.via, self.context = tuple(phone), tuple(names), tuple(text), via, tuple(context)
