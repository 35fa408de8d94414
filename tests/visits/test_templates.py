"""V1 — visit templates (任务包): the shipped library, modules with required flags, cloning by
supervisors (the copy is editable, the library original is not)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from visits import services
from visits.models import ModuleKind, VisitTemplate

pytestmark = pytest.mark.django_db


def test_medical_template_ships_with_the_required_modules(medical):
    """V1/V3: door-plate photo, signed 《产品试用确认书》, 3 needs (choices + ≤10 chars), optional memo."""
    modules = [(m.kind, m.label, m.required) for m in medical.modules.all()]
    assert medical.name == "医疗行业拜访包" and medical.is_library
    assert modules == [
        (ModuleKind.PHOTO, "科室门牌照片", True),
        (ModuleKind.SIGNED_DOCUMENT, "《产品试用确认书》", True),
        (ModuleKind.NEEDS, "核心需求", True),
        (ModuleKind.VOICE_MEMO, "语音备忘", False),
    ]
    needs = medical.modules.get(kind=ModuleKind.NEEDS)
    assert needs.needs_count == 3 and needs.free_text_max == 10 and len(needs.choices) >= 6


def test_solution_demo_template_is_marked_for_scoring(solution_demo):
    """V1 + S1: 方案演示 is a fact of the template that visit_completed carries."""
    assert solution_demo.is_solution_demo and solution_demo.is_library


def test_supervisor_clones_and_edits_the_copy(client, carol, medical):
    """V1: clone → a team copy; editing it changes the copy only."""
    client.force_login(carol)
    response = client.post(reverse("visits:template_clone", args=[medical.pk]), {"name": "杭州一组拜访包"})
    copy = VisitTemplate.objects.get(name="杭州一组拜访包")
    assert response.status_code == 302 and copy.cloned_from == medical and copy.team == carol.rep.team and not copy.is_library
    assert copy.modules.count() == medical.modules.count()
    memo = copy.modules.get(kind=ModuleKind.VOICE_MEMO)
    page = client.get(reverse("visits:template_detail", args=[copy.pk]))
    assert page.status_code == 200 and "management_form" not in page.content.decode()
    data = {"name": "杭州一组拜访包", "description": "", "active": "on", "modules-TOTAL_FORMS": str(copy.modules.count()), "modules-INITIAL_FORMS": str(copy.modules.count()), "modules-MIN_NUM_FORMS": "0", "modules-MAX_NUM_FORMS": "1000"}
    for index, module in enumerate(copy.modules.all()):
        data.update({
            f"modules-{index}-id": module.pk, f"modules-{index}-template": copy.pk, f"modules-{index}-position": module.position,
            f"modules-{index}-kind": module.kind, f"modules-{index}-label": module.label,
            f"modules-{index}-required": "on" if (module.required or module.pk == memo.pk) else "",
            f"modules-{index}-needs_count": module.needs_count, f"modules-{index}-free_text_max": module.free_text_max,
            f"modules-{index}-choices_text": "\n".join(module.choices),
        })
    response = client.post(reverse("visits:template_detail", args=[copy.pk]), data)
    assert response.status_code == 302, [f.errors for f in response.context["formset"]] + [response.context["form"].errors, response.context["formset"].non_form_errors()]
    memo.refresh_from_db()
    assert memo.required
    assert not medical.modules.get(kind=ModuleKind.VOICE_MEMO).required


def test_library_original_is_read_only_everywhere(client, carol, olga, medical):
    """V1: service, page and admin refuse to change a library original."""
    with pytest.raises(PermissionDenied):
        services.ensure_template_editable(medical, carol)
    client.force_login(carol)
    assert client.post(reverse("visits:template_detail", args=[medical.pk]), {"name": "改名"}).status_code == 403
    client.force_login(olga)
    client.post(f"/admin/visits/visittemplate/{medical.pk}/change/", {"name": "改名"})
    medical.refresh_from_db()
    assert medical.name == "医疗行业拜访包"


def test_reps_cannot_clone(alice, medical):
    with pytest.raises(PermissionDenied):
        services.template_clone(template=medical, by=alice)


def test_another_teams_copy_is_not_editable_by_me(dave, carol, medical):
    copy = services.template_clone(template=medical, by=carol)
    with pytest.raises(PermissionDenied):
        services.ensure_template_editable(copy, dave)


def test_admin_clone_action(client, olga, medical):
    client.force_login(olga)
    client.post("/admin/visits/visittemplate/", {"action": "clone_templates", "_selected_action": [medical.pk]})
    assert VisitTemplate.objects.filter(cloned_from=medical).count() == 1


def test_library_page_lists_templates(client, alice, library):
    client.force_login(alice)
    body = client.get(reverse("visits:template_list")).content.decode()
    assert "医疗行业拜访包" in body and "方案演示拜访包" in body
