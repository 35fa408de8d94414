"""T1: the shipped evidence policy, and a rule snapshot for every task still open (taken from its
template as it is now, so a later template edit no longer changes them)."""

from django.db import migrations

from visits.library import install_evidence_policy


def install(apps, schema_editor):
    EvidencePolicy = apps.get_model("visits", "EvidencePolicy")
    VisitTask = apps.get_model("visits", "VisitTask")
    TemplateModule = apps.get_model("visits", "TemplateModule")
    install_evidence_policy(EvidencePolicy)
    policy = {row.behaviour: {"kinds": list(row.required_kinds), "require_exif": row.require_exif} for row in EvidencePolicy.objects.all()}
    modules_of = {}
    for module in TemplateModule.objects.order_by("template_id", "position", "pk"):
        modules_of.setdefault(module.template_id, []).append(
            {"id": module.pk, "kind": module.kind, "label": module.label, "required": module.required, "needs_count": module.needs_count}
        )
    for task in VisitTask.objects.filter(status__in=["planned", "in_progress"]).select_related("template").iterator():
        rules = {"is_solution_demo": task.template.is_solution_demo, "policy": policy, "modules": modules_of.get(task.template_id, [])}
        # Historical models have no custom manager or save(): a plain row update, as a migration does.
        VisitTask.objects.filter(pk=task.pk).update(rules=rules)


class Migration(migrations.Migration):
    dependencies = [("visits", "0003_task_rule_snapshot_and_evidence_policy")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
