"""The quote as a Chinese PDF (C1, C8), through the shared helpers in `salesops.lib.pdf`: the TTF named
by `PDF_TTF_FONT` (default: WenQuanYi Zen Hei) is embedded, so any viewer shows the Chinese; with
PDF_TTF_FONT="" the CID font STSong-Light is used. Tests render the page to PNG (pdftoppm) and look
for glyph pixels where the Chinese text is, besides extracting it with pdftotext."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from salesops.lib import pdf
from salesops.lib.money import rmb_uppercase

from .models import CashSettings, QuoteStatus, QuoteVersion


def _money(value) -> str:
    return f"¥{value:,.2f}"


def _amount(value) -> str:
    return f"{value:,.2f}"


def _percent(value) -> str:
    """A discount: "—" when there is none."""
    return f"{value.normalize():f}%" if value else "—"


def _rate(value) -> str:
    """A tax rate always prints, 0 % included (a 0 % VAT line is a fact, not a blank)."""
    return f"{value.normalize():f}%" if value else "0%"


def quote_pdf(version: QuoteVersion) -> bytes:
    settings = CashSettings.load()
    quote = version.quote
    customer = quote.customer
    rep = quote.rep
    rep_profile = getattr(rep, "rep", None)
    style = pdf.styles()
    story: list = [
        Paragraph(settings.company_name, style["h2"]),
        Paragraph(f"{settings.company_address}　{_('电话')}：{settings.company_phone}", style["small"]),
        Spacer(1, 4 * mm),
        Paragraph(_("报价单"), style["title"]),
    ]
    if version.status != QuoteStatus.SENT and version.status != QuoteStatus.CONFIRMED:
        story.append(Paragraph(_("（%(status)s，非正式报价）") % {"status": version.get_status_display()}, style["right"]))
    issued = version.sent_at or version.created_at
    meta = [
        [_("报价单号"), f"{quote.number}", _("版本"), f"v{version.version}"],
        [_("客户"), customer.name, _("医院"), customer.hospital.name],
        [_("报价日期"), f"{timezone.localtime(issued):%Y-%m-%d}", _("有效期至"), f"{version.valid_until:%Y-%m-%d}" if version.valid_until else "—"],
        [
            _("销售代表"),
            rep.get_full_name() or rep.username,
            _("联系电话"),
            (rep_profile.phone if rep_profile and rep_profile.phone else settings.company_phone),
        ],
    ]
    meta_table = pdf.table(meta, col_widths=[22 * mm, 68 * mm, 22 * mm, 68 * mm], header=False)
    meta_table.setStyle(TableStyle([("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef2f7")), ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#eef2f7"))]))
    story += [meta_table, Spacer(1, 5 * mm)]

    small = style["small"]
    number = ParagraphStyle("cash-number", parent=small, alignment=2)
    header = [_("序号"), _("型号"), _("名称"), _("数量"), _("单价"), _("折扣"), _("不含税金额"), _("税率"), _("税额"), _("含税金额")]
    rows = [[Paragraph(text, small) for text in header]]
    for index, line in enumerate(version.lines.all(), start=1):
        rows.append(
            [Paragraph(str(index), small), Paragraph(line.product_model, small), Paragraph(line.product_name, small), Paragraph(f"{line.quantity} {line.unit}", small)]
            + [
                Paragraph(text, number)
                for text in (
                    _amount(line.unit_price),
                    _percent(line.discount_percent),
                    _amount(line.line_subtotal),
                    _rate(line.tax_rate_percent),
                    _amount(line.line_tax),
                    _amount(line.line_total),
                )
            ]
        )
    widths = [8 * mm, 22 * mm, 32 * mm, 12 * mm, 20 * mm, 11 * mm, 22 * mm, 11 * mm, 20 * mm, 22 * mm]
    story += [Paragraph(_("金额单位：人民币元"), style["small"]), pdf.table(rows, col_widths=widths), Spacer(1, 4 * mm)]

    totals = Table(
        [
            [Paragraph(_("不含税合计"), style["body"]), Paragraph(_money(version.subtotal), style["right"])],
            [Paragraph(_("税额"), style["body"]), Paragraph(_money(version.tax_total), style["right"])],
            [Paragraph(_("含税总计"), style["body"]), Paragraph(_money(version.total), style["right"])],
            [Paragraph(_("大写金额"), style["body"]), Paragraph(rmb_uppercase(version.total), style["right"])],
        ],
        colWidths=[30 * mm, 150 * mm],
    )
    totals.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef2f7"))]))
    story += [totals, Spacer(1, 5 * mm)]
    if version.note:
        story.append(Paragraph(f"{_('备注')}：{version.note}", style["body"]))
    if settings.quote_terms:
        story.append(Paragraph(_("条款"), style["h2"]))
        for term in settings.quote_terms.splitlines():
            if term.strip():
                story.append(Paragraph(term.strip(), style["small"]))
    if settings.company_bank:
        story += [Spacer(1, 3 * mm), Paragraph(f"{_('收款账户')}：{settings.company_bank}", style["small"])]
    story += [Spacer(1, 8 * mm), Paragraph(f"{settings.company_name}（{_('盖章')}）", style["right"])]
    return pdf.render(story, title=f"{_('报价单')} {quote.number} v{version.version}", author=settings.company_name)
