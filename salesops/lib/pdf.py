"""Chinese PDFs with reportlab (quotes, split statements, reports).

Fonts (C8): the TTF/TTC named by `PDF_TTF_FONT` is embedded — by default WenQuanYi Zen Hei
(fonts-wqy-zenhei; Noto CJK's PostScript outlines do not work in reportlab). PDF_TTF_FONT="" (or a
missing file) falls back to the CID font STSong-Light, which needs no file but is not embedded: a
viewer without Chinese fonts then shows blanks.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

CID_FONT = "STSong-Light"
TTF_FONT = "SalesOpsCJK"


@lru_cache(maxsize=4)
def _register(path: str) -> str:
    if path and Path(path).exists():
        kwargs = {"subfontIndex": 0} if path.lower().endswith(".ttc") else {}
        pdfmetrics.registerFont(TTFont(TTF_FONT, path, **kwargs))
        return TTF_FONT
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return CID_FONT


def cjk_font_name() -> str:
    """The registered font to use for Chinese text (TTF when configured and present, else CID)."""
    return _register(getattr(settings, "PDF_TTF_FONT", "") or "")


def styles() -> dict[str, ParagraphStyle]:
    font = cjk_font_name()
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("cjk-title", parent=base["Title"], fontName=font, fontSize=18, leading=24),
        "h2": ParagraphStyle("cjk-h2", parent=base["Heading2"], fontName=font, fontSize=13, leading=18),
        "body": ParagraphStyle("cjk-body", parent=base["BodyText"], fontName=font, fontSize=10, leading=15, wordWrap="CJK"),
        "small": ParagraphStyle("cjk-small", parent=base["BodyText"], fontName=font, fontSize=8, leading=11, wordWrap="CJK"),
        "right": ParagraphStyle("cjk-right", parent=base["BodyText"], fontName=font, fontSize=10, leading=15, alignment=2),
    }


def table(rows: list[list], col_widths: list[float] | None = None, header: bool = True) -> Table:
    """A grid table whose cells may be strings (wrapped as CJK paragraphs) or flowables."""
    style = styles()["body"]
    cells = [[Paragraph(str(cell), style) if not hasattr(cell, "wrap") else cell for cell in row] for row in rows]
    result = Table(cells, colWidths=col_widths, repeatRows=1 if header else 0)
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")))
    result.setStyle(TableStyle(commands))
    return result


def render(story: list, *, title: str, author: str = "SalesOps") -> bytes:
    """Build an A4 PDF from flowables and return its bytes."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        author=author,
    )
    document.build(story)
    return buffer.getvalue()
