"""The bonus statement as a PDF (S3): the same numbers and reasons as the page, in Chinese."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.platypus import Spacer

from salesops.lib import pdf
from salesops.lib.money import rmb_uppercase
from salesops.lib.pdf import Paragraph


def split_rule_text() -> str:
    return _(
        "分配规则：奖金池按各人在归因窗口内于该客户上的贡献值占比分配；先按比例向下取整到分，"
        "剩余的几分钱按余数从大到小各补 1 分；余数相同时，贡献值高者优先，其次首次贡献时间早者优先，"
        "再次用户编号小者优先。窗口内无贡献值时，奖金池全额归交易负责人。"
    )


def _money(amount) -> str:
    return f"¥{amount:,.2f}"


def statement_pdf(context: dict) -> bytes:
    style = pdf.styles()
    quarter = context["quarter"]
    story = [
        Paragraph(_("奖金分配单"), style["title"]),
        Paragraph(
            _("销售：%(name)s　期间：%(period)s　生成时间：%(now)s")
            % {
                "name": context["person_name"],
                "period": quarter.label,
                "now": f"{timezone.localtime():%Y-%m-%d %H:%M}",
            },
            style["body"],
        ),
        Paragraph(
            _("合计 %(total)s（%(upper)s）；已审批 %(approved)s，待审批 %(pending)s")
            % {
                "total": _money(context["total"]),
                "upper": rmb_uppercase(context["total"]),
                "approved": _money(context["approved_total"]),
                "pending": _money(context["pending_total"]),
            },
            style["body"],
        ),
        Spacer(1, 8),
    ]
    if not context["lines"]:
        story.append(Paragraph(_("本期没有奖金分配。"), style["body"]))
    rows = [[_("成交日期"), _("客户"), _("奖金池"), _("我的贡献值 / 总分"), _("精确份额"), _("分得金额"), _("状态")]]
    for line in context["lines"]:
        split, share = line["split"], line["share"]
        rows.append(
            [
                f"{timezone.localtime(split.deal.closed_at):%Y-%m-%d}",
                split.deal.customer.name,
                _money(split.pool),
                f"{share.points} / {split.total_points}",
                f"{share.exact_quota:.4f}",
                _money(share.amount) + (_("（含尾差 1 分）") if share.remainder_cent else ""),
                split.get_status_display(),
            ]
        )
    if context["lines"]:
        story.append(pdf.table(rows))
    for line in context["lines"]:
        split, share = line["split"], line["share"]
        story += [
            Spacer(1, 10),
            Paragraph(
                _("%(customer)s · 成交 %(amount)s · 分配 #%(pk)s")
                % {"customer": split.deal.customer.name, "amount": _money(split.deal_amount), "pk": split.pk},
                style["h2"],
            ),
        ]
        if split.corrects_id:
            story.append(Paragraph(_("更正自分配 #%(pk)s：%(reason)s") % {"pk": split.corrects_id, "reason": split.reason}, style["small"]))
        if split.fell_back_to_owner:
            story.append(
                Paragraph(_("归因窗口内该客户没有贡献值，奖金池按规则全额归交易负责人。"), style["body"])
            )
            continue
        actions = [[_("时间"), _("行为"), _("分值"), _("依据动作")]]
        for action in line["actions"]:
            actions.append(
                [
                    f"{timezone.localtime(action.occurred_at):%Y-%m-%d %H:%M}",
                    action.get_behaviour_display(),
                    f"+{action.points}",
                    f"{action.activity.get_kind_display()} #{action.activity_id}",
                ]
            )
        story.append(pdf.table(actions))
    story += [Spacer(1, 12), Paragraph(split_rule_text(), style["small"])]
    return pdf.render(story, title=_("奖金分配单 %(name)s %(period)s") % {"name": context["person_name"], "period": quarter.label})
