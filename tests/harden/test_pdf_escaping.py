"""R7 PDFs escape all user text: no markup, no local files, no links from user input."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from leads.cash.pdf import quote_pdf
from salesops.lib import pdf

from ..cash.helpers import make_quote
from ..factories import CustomerFactory, ProductFactory

ROOT = Path(__file__).resolve().parents[2]
WQY = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
HOSTILE = '<img src="/etc/passwd"/><a href="http://x">x</a>&<b>粗'


def _text(data: bytes) -> str:
    """The PDF's text with all white space removed (table cells wrap long values)."""
    return "".join("".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def _squash(text: str) -> str:
    return "".join(text.split())


def _has_link_or_image(data: bytes) -> bool:
    reader = PdfReader(io.BytesIO(data))
    for page in reader.pages:
        if page.get("/Annots"):
            return True
        resources = page.get("/Resources") or {}
        xobjects = resources.get("/XObject") or {}
        if any(xobjects[name].get_object().get("/Subtype") == "/Image" for name in xobjects):
            return True
    return False


@pytest.fixture
def ttf(settings):
    if Path(WQY).exists():
        settings.PDF_TTF_FONT = WQY


def test_paragraph_text_is_shown_literally(ttf):
    """R7 An image tag, a link and an unclosed <b> in user text render as text, not as markup."""
    data = pdf.render([pdf.Paragraph(HOSTILE, pdf.styles()["body"]), pdf.table([["客户", HOSTILE]])], title="t")
    text = _text(data)
    assert _squash('<img src="/etc/passwd"/>') in text
    assert _squash('<a href="http://x">x</a>&<b>') in text
    assert not _has_link_or_image(data)


@pytest.mark.django_db
def test_quote_pdf_with_markup_in_customer_name_and_note(ttf, alice, tmp_path):
    """R7 A quote whose customer name and note are markup (another rep's evidence photo path, a link,
    `<b>x`) renders; the text appears literally; no image or link is embedded."""
    photo = tmp_path / "evidence.jpg"
    from PIL import Image

    Image.new("RGB", (40, 40), "red").save(photo)
    customer = CustomerFactory(owner=alice, name=f'<img src="{photo}"/>骨科')
    product = ProductFactory()
    _quote, version = make_quote(customer, alice, [(product, 1, "0")])
    version.note = f'<b>x <a href="http://evil.example">点我</a> <img src="{photo}" width="400" height="400"/> &amp; 5 < 6'
    version.save()
    data = quote_pdf(version)
    text = _text(data)
    assert _squash(f'<img src="{photo}"/>') in text
    assert "<b>x" in text and _squash("&amp; 5 < 6") in text
    assert not _has_link_or_image(data)


def test_no_module_builds_reportlab_paragraphs_directly():
    """R7 One door: every paragraph goes through salesops.lib.pdf.Paragraph (which escapes)."""
    offenders = []
    for app in ("salesops", "leads", "visits", "scoring", "dashboards"):
        for path in (ROOT / app).rglob("*.py"):
            if path == ROOT / "salesops/lib/pdf.py" or "migrations" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            if re.search(r"from reportlab\.platypus(\.paragraph)? import [^\n]*\bParagraph\b", source):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_escape_helper():
    """R7"""
    assert pdf.escape('<a href="x">&') == '&lt;a href="x"&gt;&amp;'
    assert pdf.escape(None) == ""
    assert pdf.escape(Decimal("1.5")) == "1.5"
