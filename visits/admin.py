"""Ops staff's view of visits (A4). The admin goes through the same services as the pages:
completing a task (action or change form) hits the action lock, a new task checks the lock for
that rep and customer, evidence is read-only and can never be deleted, library templates are
read-only (clone them)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from salesops.access import role_of
from salesops.admin import HistoryAdmin as SimpleHistoryAdmin, ReadOnlyAdmin
from salesops.models import Role

from . import services
from .forms import PolicyModuleFormSet
from .models import CaptureReceipt, EvidencePolicy, Evidence, Need, TaskStatus, TemplateModule, VisitTask, VisitTemplate, VoiceTranscript


class TemplateModuleInline(admin.TabularInline):
    model = TemplateModule
    formset = PolicyModuleFormSet
    extra = 0
    fields = ("position", "kind", "label", "required", "needs_count", "choices", "free_text_max")

    def _editable(self, obj) -> bool:
        return obj is None or not obj.is_library

    def has_add_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(VisitTemplate)
class VisitTemplateAdmin(SimpleHistoryAdmin):
    list_display = ("name", "code", "is_library", "is_solution_demo", "team", "cloned_from", "active")
    list_filter = ("is_library", "is_solution_demo", "active", "team")
    search_fields = ("name", "code")
    inlines = [TemplateModuleInline]
    actions = ["clone_templates"]

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_library:
            return False  # library originals are read-only; clone them
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("克隆所选任务包（副本可编辑）"))
    def clone_templates(self, request, queryset):
        for template in queryset:
            copy = services.template_clone(template=template, by=request.user)
            self.message_user(request, _("已克隆：%(name)s") % {"name": copy.name}, messages.SUCCESS)


class VisitTaskAdminForm(forms.ModelForm):
    class Meta:
        model = VisitTask
        fields = ("rep", "customer", "contact", "template", "due_date", "status", "demand_changes", "competitor_news", "next_action", "cancelled_reason")

    def clean(self):
        data = super().clean()
        status = data.get("status")
        if not self.instance.pk:
            if status != TaskStatus.PLANNED:
                self.add_error("status", _("新任务只能是“待拜访”。"))
            rep, customer = data.get("rep"), data.get("customer")
            if rep and customer:
                try:
                    services.ensure_no_open_task(rep=rep, customer=customer)
                except ValidationError as exc:
                    raise ValidationError(exc.messages)
            return data
        before = VisitTask.objects.get(pk=self.instance.pk)
        if status == TaskStatus.COMPLETED and before.status != TaskStatus.COMPLETED:
            missing = before.missing_modules()
            if missing:
                raise ValidationError(services.ActionLocked(missing).messages)
        if before.status == TaskStatus.COMPLETED and status != TaskStatus.COMPLETED:
            self.add_error("status", _("已完成的拜访不能改回。"))
        return data


@admin.register(EvidencePolicy)
class EvidencePolicyAdmin(SimpleHistoryAdmin):
    """T1: which evidence proves a scored behaviour — company policy, directors and ops only."""

    list_display = ("behaviour", "required_kinds", "require_exif", "updated_at")

    def _may_set(self, request) -> bool:
        return role_of(request.user) in (Role.DIRECTOR, Role.OPS)

    def has_add_permission(self, request) -> bool:
        return self._may_set(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may_set(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        services.evidence_policy_set(
            behaviour=obj.behaviour, required_kinds=obj.required_kinds, require_exif=obj.require_exif, by=request.user
        )


@admin.register(VisitTask)
class VisitTaskAdmin(SimpleHistoryAdmin):
    form = VisitTaskAdminForm
    list_display = ("due_date", "rep", "customer", "template", "status", "completed_at")
    list_filter = ("status", "template", "due_date", "rep__rep__team")
    search_fields = ("customer__name", "rep__username", "rep__first_name", "token")
    autocomplete_fields = ("rep", "customer", "contact")
    readonly_fields = ("token", "created_by", "created_at", "started_at", "completed_at", "checkin_latitude", "checkin_longitude", "checkin_distance_m")
    actions = ["complete_tasks"]
    date_hierarchy = "due_date"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and not obj.is_open:
            return False  # T7: a completed or cancelled visit is read-only
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None:
            # T1: who, where and which rules are fixed when the task is created.
            fields += ("rep", "customer", "template")
        return fields

    def save_model(self, request, obj, form, change):
        if not change:
            data = form.cleaned_data
            task = services.visit_task_create(
                rep=data["rep"], customer=data["customer"], template=data["template"], contact=data.get("contact"), due_date=data["due_date"], by=request.user
            )
            obj.pk, obj.token = task.pk, task.token
            return
        before = VisitTask.objects.get(pk=obj.pk)
        completing = obj.status == TaskStatus.COMPLETED and before.status != TaskStatus.COMPLETED
        if completing:
            obj.status = before.status  # the service makes the transition (lock + ledger)
        obj._history_user = request.user
        super().save_model(request, obj, form, change)
        if completing:
            services.visit_complete(task=obj, by=request.user)
            obj.refresh_from_db()

    @admin.action(description=_("标记完成（受动作锁约束）"))
    def complete_tasks(self, request, queryset):
        done = 0
        for task in queryset:
            try:
                services.visit_complete(task=task, by=request.user)
                done += 1
            except services.ActionLocked as exc:
                self.message_user(request, f"{task}：{exc.messages[0]}", messages.ERROR)
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, f"{task}：{exc}", messages.ERROR)
        if done:
            self.message_user(request, _("已完成 %(n)d 个拜访任务。") % {"n": done}, messages.SUCCESS)


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyHistoryAdmin):
    """V5: evidence is immutable — no add (uploads go through the app), no change, no delete."""

    list_display = ("uploaded_at", "label", "version", "task", "uploaded_by", "content_type", "size", "flagged", "sha256_short")
    list_filter = ("kind", "flagged", "content_type")
    search_fields = ("sha256", "task__customer__name", "uploaded_by__username")
    list_select_related = ("task", "task__customer", "uploaded_by")
    date_hierarchy = "uploaded_at"

    @admin.display(description="SHA-256")
    def sha256_short(self, obj) -> str:
        return format_html("<code>{}</code>", obj.sha256[:16])


@admin.register(Need)
class NeedAdmin(ReadOnlyHistoryAdmin):
    list_display = ("task", "version", "position", "choice", "free_text", "captured_by", "captured_at")
    list_select_related = ("task", "task__customer", "captured_by")


@admin.register(VoiceTranscript)
class VoiceTranscriptAdmin(ReadOnlyHistoryAdmin):
    list_display = ("evidence", "status", "backend", "attempts", "last_error", "transcribed_at")
    list_filter = ("status", "backend")


@admin.register(CaptureReceipt)
class CaptureReceiptAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    """U3: what the phones sent, by key — read-only (receipts are written once by the services)."""

    list_display = ("key", "action", "task", "user", "captured_at", "received_at", "delayed")
    list_filter = ("action", "delayed")
    search_fields = ("key",)
