"""Issue 12 — each attack on the evidence → points → bonus chain, replayed as the real personas,
no longer pays or no longer writes (T1–T8); plus the model-level guards behind every door.

alice/bob reps (team A), carol supervisor A, dave supervisor B, diana director, olga ops.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from leads.cash import deals as cash_deals
from leads.cash import quotes as cash_quotes
from leads.cash.models import Payment, QuoteStatus, Receivable
from leads.models import AssignmentRules, ContactKind, ContactVerification, Lead, LeadStatus, RulesStatus
from leads.services import contact_attempt_record, lead_close
from salesops.admin import HistoryAdmin
from salesops.guards import RecordIsFrozen
from salesops.ledger import activity_append
from salesops.models import Activity, ActivityKind, ContactTitle
from scoring.derivation import ledger_differences
from scoring.models import (
    Behaviour,
    BonusShare,
    BonusSplit,
    Contribution,
    ContributionIsAppendOnly,
    ContributionReason,
    ContributionReview,
    ReviewStatus,
    SplitIsFrozen,
    SplitStage,
    SplitStatus,
)
from scoring.periods import quarter_of
from scoring.services import scoring_sweep, split_approve
from visits import services as visit_services
from visits.library import DEAN_CODE, MEDICAL_CODE, SOLUTION_DEMO_CODE, install_evidence_policy, install_library
from visits.models import (
    EvidenceIsImmutable,
    EvidencePolicy,
    ModuleKind,
    Need,
    TaskIsFrozen,
    TaskStatus,
    TemplateModule,
    VisitTask,
    VisitTemplate,
)

from ..cash.helpers import make_quote, make_won_deal
from ..factories import ContactFactory, CustomerFactory, ProductFactory
from ..visits.factories import pdf_upload, photo_upload, wav_upload
from .factories import lead as lead_proof
from .factories import visit as visit_proof
from .factories import won_deal

B = Behaviour


@pytest.fixture
def library(db):
    install_evidence_policy(EvidencePolicy)
    return {template.code: template for template in install_library(VisitTemplate, TemplateModule)}


@pytest.fixture
def product(db):
    return ProductFactory(list_price=Decimal("10000.00"))


@pytest.fixture
def dean(customer, carol):
    contact = ContactFactory(customer=customer, name="李院长", title=ContactTitle.DEAN)
    from salesops.services import contact_title_verify

    return contact_title_verify(contact=contact, title=ContactTitle.DEAN, by=carol)


def payable_points(rep, behaviour=None) -> int:
    rows = Contribution.objects.payable().filter(rep=rep)
    if behaviour:
        rows = rows.filter(behaviour=behaviour)
    return rows.aggregate(total=Sum("points"))["total"] or 0


def module(task, kind):
    return task.template.modules.filter(kind=kind).order_by("-required", "position").first()


def dean_visit(rep, customer, contact, *, photo_seed="dean", by=None):
    """A complete 院长拜访包 visit through the real services (photo, 3 needs, voice memo)."""
    task = visit_services.visit_task_create(
        rep=rep, customer=customer, template=VisitTemplate.objects.get(code=DEAN_CODE), contact=contact,
        due_date=timezone.localdate(), by=rep,
    )  # fmt: skip
    visit_services.evidence_add(task=task, module=module(task, ModuleKind.PHOTO), upload=photo_upload(seed=photo_seed), by=rep)
    needs = module(task, ModuleKind.NEEDS)
    visit_services.needs_capture(task=task, module=needs, items=[(choice, "") for choice in needs.choices[:3]], by=rep)
    visit_services.evidence_add(task=task, module=module(task, ModuleKind.VOICE_MEMO), upload=wav_upload(), by=rep)
    return visit_services.visit_complete(task=task, by=rep)


# --- T4: ten ¥0.01 payments naming myself as the pusher ---------------------------------------


def test_ten_cent_payments_naming_myself_as_pusher_pay_nothing(client, alice, carol, customer, product):
    """T4: a rep on a won deal records ten ¥0.01 payments naming themself as the pusher: before,
    +300 points; now an unverified payment earns nothing — only money lead-to-cash verified
    (basis bank/finance, pusher named by someone else) does."""
    deal = make_won_deal(customer, alice, product)
    client.force_login(alice)
    for number in range(10):
        client.post(
            f"/cash/deals/{deal.pk}/payments/",
            {"receivable": deal.receivables.first().pk, "amount": "0.01", "received_on": timezone.localdate().isoformat(),
             "pushed_by": alice.pk, "reference": f"自报 {number}"},
        )  # fmt: skip
    scoring_sweep()
    assert not Contribution.objects.filter(behaviour=B.PAYMENT_PUSH).exists()
    assert payable_points(alice, B.PAYMENT_PUSH) == 0


def test_confirmed_instalment_scores_once_and_counts_in_its_own_deal_after_close(alice, bob, olga, customer, product):
    """T4: lead-to-cash's verified payment_recorded (one per instalment, pusher named by finance,
    basis bank/finance) earns 回款推动, and it counts in the split of the deal it brought money to
    even though the money came after close: the split is provisional at close and final once
    settled."""
    closed = timezone.now() - timedelta(days=5)
    lead_proof(rep=alice, customer=customer, at=closed - timedelta(days=3))
    deal = make_won_deal(customer, alice, product, at=closed)
    scoring_sweep()
    provisional = BonusSplit.objects.current().get(deal=deal)
    assert provisional.stage == SplitStage.PROVISIONAL
    assert list(provisional.shares.values_list("rep__username", flat=True)) == ["alice"]

    receivable = deal.receivables.get()
    # The contract lead-to-cash writes (one per instalment; the subject is its credit record).
    facts = {"deal_id": deal.pk, "receivable_id": receivable.pk, "amount": str(receivable.amount), "basis": "finance", "named_by_id": olga.pk}
    activity_append(rep=bob, kind=ActivityKind.PAYMENT_RECORDED, customer=customer, subject=receivable,
                    occurred_at=timezone.now() - timedelta(days=1), facts=facts)  # fmt: skip
    cash_deals.payment_record(receivable=receivable, amount=receivable.amount, received_on=timezone.localdate(), by=olga)
    scoring_sweep()
    assert payable_points(bob, B.PAYMENT_PUSH) == 30
    final = BonusSplit.objects.current().get(deal=deal)
    assert final.corrects_id == provisional.pk and final.stage == SplitStage.FINAL_SETTLED
    assert dict(final.shares.values_list("rep__username", "points")) == {"alice": 10, "bob": 30}
    assert Contribution.objects.get(behaviour=B.PAYMENT_PUSH).deal_id == deal.pk


# --- T1: the supervisor's clone and the template edit ------------------------------------------


def _template_post(template, *, is_solution_demo: bool, required: bool) -> dict:
    modules = list(template.modules.order_by("position", "pk"))
    data = {
        "name": template.name, "description": "", "active": "on",
        "modules-TOTAL_FORMS": str(len(modules)), "modules-INITIAL_FORMS": str(len(modules)),
        "modules-MIN_NUM_FORMS": "0", "modules-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    if is_solution_demo:
        data["is_solution_demo"] = "on"
    for index, item in enumerate(modules):
        prefix = f"modules-{index}-"
        data.update({
            prefix + "id": str(item.pk), prefix + "template": str(template.pk), prefix + "position": str(item.position),
            prefix + "kind": item.kind, prefix + "label": item.label, prefix + "needs_count": str(item.needs_count),
            prefix + "free_text_max": str(item.free_text_max), prefix + "choices_text": "\n".join(item.choices),
        })  # fmt: skip
        if required:
            data[prefix + "required"] = "on"
    return data


def test_supervisor_clone_unticking_required_and_ticking_demo_is_refused(client, carol, library):
    """T1: carol clones 医疗行业拜访包, unticks "required" everywhere and ticks 方案演示: the page
    refuses (company policy: a scoring template requires the evidence that proves it)."""
    client.force_login(carol)
    client.post(f"/visits/templates/{library[MEDICAL_CODE].pk}/clone/", {"name": "我的拜访包"})
    copy = VisitTemplate.objects.get(cloned_from=library[MEDICAL_CODE])
    response = client.post(f"/visits/templates/{copy.pk}/", _template_post(copy, is_solution_demo=True, required=False))
    assert response.status_code == 400
    assert "公司证据政策" in response.content.decode()
    copy.refresh_from_db()
    assert copy.is_solution_demo is False and copy.modules.filter(required=True).count() == 3


def test_a_clone_edited_behind_the_form_still_cannot_earn_without_evidence(alice, carol, customer, library):
    """T1: even a template edited around the form (shell, a missed door) cannot earn: the task
    snapshot makes the policy's evidence required, and a demo template without the demo's PDF
    cannot even be planned."""
    copy = visit_services.template_clone(template=library[SOLUTION_DEMO_CODE], by=carol)
    for item in copy.modules.all():
        item.required = False
        item.save()
    task = visit_services.visit_task_create(rep=alice, customer=customer, template=copy, due_date=timezone.localdate(), by=alice)
    assert {m.kind for m in task.missing_modules()} >= {ModuleKind.PHOTO, ModuleKind.DOCUMENT, ModuleKind.NEEDS}
    medical_copy = visit_services.template_clone(template=library[MEDICAL_CODE], by=carol)
    medical_copy.is_solution_demo = True
    medical_copy.save()
    other = CustomerFactory(owner=alice)
    with pytest.raises(visit_services.ValidationError) as refused:
        visit_services.visit_task_create(rep=alice, customer=other, template=medical_copy, due_date=timezone.localdate(), by=alice)
    assert "方案演示" in " ".join(refused.value.messages)


def test_editing_a_template_never_unlocks_an_open_task(alice, carol, customer, library):
    """T1: the lock belongs to the task — unticking a module on the template afterwards leaves the
    open task's rules as they were."""
    copy = visit_services.template_clone(template=library[MEDICAL_CODE], by=carol)
    task = visit_services.visit_task_create(rep=alice, customer=customer, template=copy, due_date=timezone.localdate(), by=alice)
    for item in copy.modules.all():
        item.required = False
        item.save()
    task = VisitTask.objects.get(pk=task.pk)
    assert [m.label for m in task.missing_modules()] == ["科室门牌照片", "《产品试用确认书》", "核心需求"]


def test_a_visit_without_any_evidence_file_cannot_complete_by_any_door(client, alice, olga, customer, library):
    """T1: page, JSON API, admin action, admin change form and the model itself all refuse to
    complete a visit with no evidence file — even on a template with nothing required."""
    template = VisitTemplate.objects.create(code="bare", name="空任务包", team=None)
    TemplateModule.objects.create(template=template, kind=ModuleKind.PHOTO, label="照片", required=False)
    task = visit_services.visit_task_create(rep=alice, customer=customer, template=template, due_date=timezone.localdate(), by=alice)
    client.force_login(alice)
    assert client.post(f"/visits/tasks/{task.pk}/complete/").status_code == 409
    assert client.post(f"/visits/api/tasks/{task.pk}/complete/").status_code == 409
    client.force_login(olga)
    client.post("/admin/visits/visittask/", {"action": "complete_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.status == TaskStatus.PLANNED
    task.status = TaskStatus.COMPLETED
    with pytest.raises(TaskIsFrozen):
        task.save()
    assert not Activity.objects.filter(kind=ActivityKind.VISIT_COMPLETED).exists()


def test_admin_switching_the_template_then_completing_walks_around_nothing(client, olga, alice, customer, library):
    """T1, T7: in admin, post 1 switches the task to a template with nothing required, post 2
    completes it: the template is fixed at creation and the lock still holds."""
    task = visit_services.visit_task_create(rep=alice, customer=customer, template=library[MEDICAL_CODE], due_date=timezone.localdate(), by=alice)
    bare = VisitTemplate.objects.create(code="bare2", name="空任务包")
    client.force_login(olga)
    url = f"/admin/visits/visittask/{task.pk}/change/"
    form = {"template": bare.pk, "due_date": timezone.localdate().isoformat(), "status": TaskStatus.PLANNED,
            "demand_changes": "", "competitor_news": "", "next_action": "", "cancelled_reason": "", "contact": ""}  # fmt: skip
    client.post(url, form)
    task.refresh_from_db()
    assert task.template_id == library[MEDICAL_CODE].pk
    response = client.post(url, {**form, "status": TaskStatus.COMPLETED})
    assert response.status_code == 200 and "动作锁" in response.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.PLANNED


# --- T2 / T3: five visits to the same 院长 in one hour, the same photo ---------------------------


def test_five_visits_to_the_same_dean_in_one_hour_with_a_reused_photo_pay_once(alice, carol, customer, dean, library):
    """T2: five complete visits to the same 院长 within the hour, four with the same (flagged)
    photo: before, +300; now the first pays 25 + 15 and the four repeats are capped (0 points,
    the reason stated)."""
    for number in range(5):
        dean_visit(alice, customer, dean, photo_seed="same-photo")
    scoring_sweep()
    assert payable_points(alice) == 25 + 15
    capped = Contribution.objects.filter(rep=alice, reason=ContributionReason.CAPPED)
    assert capped.filter(behaviour=B.DEAN_VISIT).count() == 4 and capped.filter(behaviour=B.NEEDS_DIAGNOSIS).count() == 4
    assert set(capped.values_list("points", flat=True)) == {0}


def test_flagged_evidence_is_held_until_the_supervisor_decides_with_a_reason(client, alice, bob, carol, dave, customer, dean, library):
    """T2, T5: a visit whose photo was already used on another visit scores held; it shows in
    carol's queue (not dave's), a decision needs a reason, acceptance pays, rejection appends a
    negative row linked to it; the rep's statement says why."""
    other_customer = CustomerFactory(owner=bob)
    other_dean = ContactFactory(customer=other_customer, title=ContactTitle.OTHER)
    task = visit_services.visit_task_create(rep=bob, customer=other_customer, template=VisitTemplate.objects.get(code=MEDICAL_CODE),
                                            contact=other_dean, due_date=timezone.localdate(), by=bob)  # fmt: skip
    visit_services.evidence_add(task=task, module=module(task, ModuleKind.PHOTO), upload=photo_upload(seed="borrowed"), by=bob)
    dean_visit(alice, customer, dean, photo_seed="borrowed")
    scoring_sweep()
    held = Contribution.objects.filter(rep=alice, held=True)
    assert set(held.values_list("behaviour", flat=True)) == {B.DEAN_VISIT, B.NEEDS_DIAGNOSIS}
    assert payable_points(alice) == 0

    client.force_login(dave)
    assert "李院长" not in client.get("/scoring/reviews/").content.decode()
    client.force_login(alice)
    assert client.get("/scoring/reviews/").status_code == 404
    client.force_login(carol)
    page = client.get("/scoring/reviews/").content.decode()
    assert "repeat_photo" in page
    dean_review = ContributionReview.objects.get(contribution__behaviour=B.DEAN_VISIT)
    needs_review = ContributionReview.objects.get(contribution__behaviour=B.NEEDS_DIAGNOSIS)
    assert client.post(f"/scoring/reviews/{dean_review.pk}/decide/", {"decision": "reject", "reason": ""}).status_code == 400
    client.post(f"/scoring/reviews/{dean_review.pk}/decide/", {"decision": "reject", "reason": "照片与另一家医院的拜访相同"})
    client.post(f"/scoring/reviews/{needs_review.pk}/decide/", {"decision": "accept", "reason": "需求记录与语音一致"})
    dean_review.refresh_from_db()
    assert (dean_review.status, dean_review.decided_by) == (ReviewStatus.REJECTED, carol)
    assert dean_review.history.filter(history_user=carol, status=ReviewStatus.REJECTED).exists()
    reversal = Contribution.objects.get(reason=ContributionReason.EVIDENCE_REJECTED)
    assert reversal.reverses.behaviour == B.DEAN_VISIT and reversal.points == -25
    assert payable_points(alice) == 15
    # A decided review is final: a second post changes nothing.
    client.post(f"/scoring/reviews/{dean_review.pk}/decide/", {"decision": "accept", "reason": "改主意"})
    dean_review.refresh_from_db()
    assert dean_review.status == ReviewStatus.REJECTED
    client.force_login(alice)
    statement = client.get("/scoring/statement/").content.decode()
    assert "证据审核驳回" in statement and "照片与另一家医院的拜访相同" in statement
    assert scoring_sweep()["contributions"] == 0


def test_a_dean_the_rep_typed_is_not_a_dean_until_verified(client, alice, carol, customer, library):
    """T3: a contact recorded as 院长 but never verified earns no 院长级拜访; carol verifies it in
    her queue (history kept); a later change of the title unverifies it."""
    typed = ContactFactory(customer=customer, name="王自称", title=ContactTitle.DEAN)
    dean_visit(alice, customer, typed, photo_seed="typed")
    scoring_sweep()
    assert not Contribution.objects.filter(behaviour=B.DEAN_VISIT).exists()
    client.force_login(alice)
    assert client.post(f"/scoring/contacts/{typed.pk}/verify/", {"title": "院长"}).status_code == 403
    client.force_login(carol)
    client.post(f"/scoring/contacts/{typed.pk}/verify/", {"title": "院长"})
    typed.refresh_from_db()
    assert typed.is_verified_dean and typed.title_verified_by == carol
    assert typed.history.filter(history_user=carol, title_verified_as="院长").exists()
    typed.title = ContactTitle.VICE_DEAN
    typed.save()
    assert not typed.is_verified_dean


# --- T6: a supervisor approves their own money; ops approves -------------------------------------


def test_nobody_approves_a_split_they_hold_a_share_in_and_ops_never_approves(client, alice, carol, diana, olga, customer):
    """T6: carol earned points on alice's deal: she cannot approve it (403), nor can ops; the
    director can."""
    now = timezone.now()
    lead_proof(rep=alice, customer=customer, at=now - timedelta(days=3))
    lead_proof(rep=carol, customer=customer, at=now - timedelta(days=2))
    deal = won_deal(customer=customer, owner=alice, closed_at=now - timedelta(hours=1))
    scoring_sweep()
    split = BonusSplit.objects.current().get(deal=deal)
    assert split.shares.filter(rep=carol).exists()
    for person in (carol, olga, alice):
        client.force_login(person)
        assert client.post(reverse("scoring:split_approve", args=[split.pk])).status_code in (403, 404)
        split.refresh_from_db()
        assert split.status == SplitStatus.DRAFT
    client.force_login(diana)
    client.post(reverse("scoring:split_approve", args=[split.pk]))
    split.refresh_from_db()
    assert (split.status, split.approved_by) == (SplitStatus.APPROVED, diana)


# --- T7: history is read-only; frozen records refuse change at the model level -------------------


def test_every_history_admin_refuses_revert_posts(client, olga):
    """T7: every admin with simple_history uses the read-only HistoryAdmin, and its history form
    answers 405 to a POST — for every registered model."""
    client.force_login(olga)
    checked = 0
    for model, model_admin in admin.site._registry.items():
        if not isinstance(model_admin, SimpleHistoryAdmin):
            continue
        assert isinstance(model_admin, HistoryAdmin), model
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_simple_history", args=[1, 1])
        assert client.post(url, {}).status_code == 405, model
        checked += 1
    assert checked >= 30


def test_revert_of_a_rejected_quote_version_and_of_published_rules_is_refused(client, olga, alice, customer, product):
    """T7: the reproduced attacks — a rejected quote version reverted to a ¥999,999.99 draft, the
    published assignment rules turned back into a draft — refuse in admin and in the model."""
    _quote, version = make_quote(customer, alice, [(product, 1, "0")], send=True)
    cash_quotes.quote_version_reject(version=version, by=alice)
    version.refresh_from_db()
    draft_record = version.history.filter(status=QuoteStatus.DRAFT).last()
    client.force_login(olga)
    url = reverse("admin:cash_quoteversion_simple_history", args=[version.pk, draft_record.history_id])
    response = client.post(url, {"status": "draft", "total": "999999.99"})
    assert response.status_code == 405
    version.refresh_from_db()
    assert version.status == QuoteStatus.REJECTED and version.total != Decimal("999999.99")
    version.total = Decimal("999999.99")
    with pytest.raises(RecordIsFrozen):
        version.save()
    version.refresh_from_db()
    version.status = QuoteStatus.DRAFT
    with pytest.raises(RecordIsFrozen):
        version.save()

    rules = AssignmentRules.live()
    rules_url = reverse("admin:leads_assignmentrules_simple_history", args=[rules.pk, 1])
    assert client.post(rules_url, {"status": "draft"}).status_code == 405
    rules.refresh_from_db()
    assert rules.status == RulesStatus.LIVE
    rules.status = RulesStatus.DRAFT
    with pytest.raises(RecordIsFrozen):
        rules.save()
    rules.refresh_from_db()
    rules.weight_grade = 99
    with pytest.raises(RecordIsFrozen):
        rules.save()


def test_need_completed_task_approved_share_and_money_refuse_change_at_the_model_level(alice, carol, diana, olga, customer, dean, product, library):
    """T7: Need.save(), a completed VisitTask, an approved BonusShare, a BonusSplit/Share/VisitTask
    queryset update, a recorded payment's amount and a contribution all refuse change."""
    task = dean_visit(alice, customer, dean, photo_seed="guards")
    need = Need.objects.filter(task=task).first()
    need.free_text = "改过"
    with pytest.raises(EvidenceIsImmutable):
        need.save()
    task = VisitTask.objects.get(pk=task.pk)
    task.customer = CustomerFactory()
    with pytest.raises(TaskIsFrozen):
        task.save()
    task = VisitTask.objects.get(pk=task.pk)
    task.next_action = "改写"
    with pytest.raises(TaskIsFrozen):
        task.save()
    with pytest.raises(TaskIsFrozen):
        VisitTask.objects.filter(pk=task.pk).update(status=TaskStatus.PLANNED)

    deal = won_deal(customer=customer, owner=alice)
    scoring_sweep()
    split = BonusSplit.objects.current().get(deal=deal)
    split_approve(split=split, by=diana, notify=False)
    share = split.shares.first()
    share.amount = Decimal("999999.99")
    with pytest.raises(SplitIsFrozen):
        share.save()
    with pytest.raises(SplitIsFrozen):
        BonusShare.objects.filter(pk=share.pk).update(amount=Decimal("1.00"))
    with pytest.raises(SplitIsFrozen):
        BonusSplit.objects.filter(pk=split.pk).update(status=SplitStatus.DRAFT)
    with pytest.raises(ContributionIsAppendOnly):
        Contribution.objects.filter(rep=alice).update(points=999)

    money = make_won_deal(CustomerFactory(owner=alice), alice, product)
    payment = cash_deals.payment_record(receivable=money.receivables.get(), amount=Decimal("100.00"), received_on=timezone.localdate(), by=olga)
    payment.amount = Decimal("999999.99")
    with pytest.raises(RecordIsFrozen):
        payment.save()
    assert Payment.objects.get(pk=payment.pk).amount == Decimal("100.00")


# --- T5: reversals, never deletes; recompute before and after --------------------------------------


def test_recompute_a_quarter_before_and_after_a_reversal_gives_the_expected_totals(alice, bob, carol, olga, customer):
    """T5: alice introduces a lead (10) and diagnoses needs (15), bob's pushing brings money in
    (30). Lead-to-cash reverses the payment and carol closes the lead as a duplicate: negative rows
    linked to their cause are appended, nothing is deleted, and recomputing the quarter from the
    ledger gives the same ledger before and after (alice 15, bob 0)."""
    now = timezone.now()
    quarter = quarter_of(now)
    lead = Lead.objects.create(contact_name="张先生", phone="+8613800001111", customer=customer, introduced_by=alice)
    introduced = activity_append(rep=alice, kind=ActivityKind.LEAD_INTRODUCED, customer=customer, subject=lead,
                                 occurred_at=now - timedelta(hours=5), facts={"source": "rep"})  # fmt: skip
    visit_proof(rep=alice, customer=customer, at=now - timedelta(hours=4), needs_count=3)
    deal = won_deal(customer=customer, owner=alice, closed_at=now - timedelta(hours=3))
    receivable = Receivable.objects.create(deal=deal, sequence=1, amount=deal.amount, due_date=timezone.localdate())
    confirmed = activity_append(rep=bob, kind=ActivityKind.PAYMENT_RECORDED, customer=customer, subject=receivable,
                                occurred_at=now - timedelta(hours=2), facts={"deal_id": deal.pk, "amount": str(deal.amount), "basis": "bank"})  # fmt: skip

    def quarter_totals() -> dict:
        rows = Contribution.objects.payable().between(quarter.start, quarter.end).values_list("rep__username").annotate(total=Sum("points"))
        return dict(rows)

    call_command("recompute_points", "--since", quarter.start.date().isoformat(), "--verify", stdout=io.StringIO())
    assert quarter_totals() == {"alice": 25, "bob": 30}
    assert not any(ledger_differences(since=quarter.start).values())
    stored_before = set(Contribution.objects.values_list("pk", "points"))

    contact = ContactFactory(customer=customer)  # the counter-entry's own subject
    reversed_by = activity_append(rep=bob, kind=ActivityKind.PAYMENT_REVERSED, customer=customer, subject=contact,
                                  occurred_at=now - timedelta(hours=1), facts={"reason": "银行退票", "reverses_activity_id": confirmed.pk})  # fmt: skip
    lead_close(lead=lead, by=carol, status=LeadStatus.CLOSED, reason="重复线索")
    call_command("recompute_points", "--since", quarter.start.date().isoformat(), "--verify", stdout=io.StringIO())
    assert quarter_totals() == {"alice": 15, "bob": 0}
    assert stored_before <= set(Contribution.objects.values_list("pk", "points"))  # appended, never changed
    payment_reversal = Contribution.objects.get(reason=ContributionReason.PAYMENT_REVERSED)
    assert (payment_reversal.points, payment_reversal.reverses.activity_id, payment_reversal.activity_id) == (-30, confirmed.pk, reversed_by.pk)
    assert payment_reversal.note == "银行退票"
    junk = Contribution.objects.get(reason=ContributionReason.JUNK_LEAD)
    assert (junk.points, junk.reverses.activity_id, junk.note) == (-10, introduced.pk, "重复线索")
    assert scoring_sweep()["contributions"] == 0
    assert quarter_totals() == {"alice": 15, "bob": 0}
    assert not any(ledger_differences(since=quarter.start).values())


# --- T8: self-reported or verified contact -----------------------------------------------------------


def test_a_typed_call_is_self_reported_and_kpi1_can_count_only_verified_contact(client, alice, carol, diana, customer):
    """T8: what alice types is 自报; a phone-system record is 已核实; the lead timeline shows both
    and KPI 1 uses whichever basis the director chose."""
    from dashboards.kpis import Scope, lead_minutes

    now = timezone.now()
    lead = Lead.objects.create(contact_name="刘女士", phone="+8613800002222", customer=customer, assignee=alice,
                               assigned_at=now - timedelta(hours=3), status=LeadStatus.ASSIGNED)  # fmt: skip
    typed = contact_attempt_record(lead=lead, kind=ContactKind.CALL, by=alice, duration_seconds=120, occurred_at=now - timedelta(hours=2, minutes=30))
    proven = contact_attempt_record(lead=lead, kind=ContactKind.CALL, by=alice, duration_seconds=120, occurred_at=now - timedelta(hours=1), proof="phone_system")
    assert (typed.verification, proven.verification) == (ContactVerification.SELF_REPORTED, ContactVerification.VERIFIED)
    client.force_login(carol)
    timeline = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "自报" in timeline and "已核实" in timeline
    span = [(now - timedelta(days=1), now + timedelta(days=1))]
    assert lead_minutes(span, Scope.company(), now=now) == {(None, 0): [(30.0, True)]}
    assert lead_minutes(span, Scope.company(), now=now, contact_basis="verified") == {(None, 0): [(120.0, True)]}
