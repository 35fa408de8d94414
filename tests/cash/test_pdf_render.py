"""C8: quotes (and every PDF built with salesops.lib.pdf: statements, reports) embed a CJK TrueType
font by default — checked by rendering the page to PNG with pdftoppm and finding glyph pixels where
the Chinese text is, not only by extracting text. A 0 % tax rate prints "0%"."""

import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from PIL import Image
from reportlab.platypus import Paragraph

from leads.cash.pdf import quote_pdf
from salesops.lib import pdf as shared_pdf

from .helpers import make_quote

pytestmark = pytest.mark.django_db
DPI = 100


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} (poppler-utils) is required for the C8 rendering check")
    return path


def _fonts(path: Path) -> list[list[str]]:
    out = subprocess.run([_tool("pdffonts"), str(path)], capture_output=True, check=True, text=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


STANDARD_14 = ("Helvetica", "Times", "Courier", "Symbol", "ZapfDingbats")


def _assert_cjk_embedded(fonts: list[list[str]]) -> None:
    """The CJK font is embedded; anything not embedded is a standard-14 Latin font (which cannot
    carry Chinese and every viewer has)."""
    cjk = [row for row in fonts if "WenQuanYi" in row[0]]
    assert cjk and all(row[row.index("TrueType") + 2] == "yes" for row in cjk), fonts
    for row in fonts:
        if "yes" not in row[-5:-2]:
            assert row[0].startswith(STANDARD_14), fonts
    assert not any("STSong" in row[0] for row in fonts)


def _word_box(path: Path, word: str) -> tuple[float, float, float, float]:
    """(xMin, yMin, xMax, yMax) in PDF points of the first word containing `word` (pdftotext -bbox)."""
    import re

    html = subprocess.run([_tool("pdftotext"), "-bbox", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True).stdout
    for match in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', html):
        if word in match.group(5):
            return tuple(float(match.group(i)) for i in range(1, 5))
    raise AssertionError(f"{word} not found in the PDF text")


def _ink_ratio(path: Path, box, tmp_path: Path) -> float:
    """Share of dark pixels inside `box` on page 1 rendered at DPI."""
    prefix = tmp_path / "page"
    subprocess.run([_tool("pdftoppm"), "-r", str(DPI), "-f", "1", "-l", "1", "-png", str(path), str(prefix)], check=True)
    image = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    scale = DPI / 72
    x0, y0, x1, y1 = (int(v * scale) for v in box)
    crop = image.crop((x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)))
    pixels = list(crop.getdata())
    return sum(1 for p in pixels if p < 128) / len(pixels)


def test_the_default_quote_pdf_embeds_the_cjk_font_and_renders_chinese_glyphs(tmp_path, alice, customer_a, hip):
    """C8: no configuration → WenQuanYi Zen Hei embedded (pdffonts: emb yes for every font, no
    STSong-Light); rendered at 100 dpi, the 报价单 title and the customer's name carry ink."""
    assert django_settings.PDF_TTF_FONT.endswith("wqy-zenhei.ttc")
    _quote, version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    path = tmp_path / "quote.pdf"
    path.write_bytes(quote_pdf(version))
    _assert_cjk_embedded(_fonts(path))
    for word in ("报价单", "浙江省人民医院"):
        assert _ink_ratio(path, _word_box(path, word), tmp_path) > 0.08, word
        for png in tmp_path.glob("page*.png"):
            png.unlink()


def test_blank_area_has_no_ink_so_the_check_can_fail(tmp_path, alice, customer_a, hip):
    """The measuring stick itself: an empty strip of the page has (almost) no dark pixels."""
    _quote, version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    path = tmp_path / "quote.pdf"
    path.write_bytes(quote_pdf(version))
    assert _ink_ratio(path, (300, 800, 560, 830), tmp_path) < 0.01


def test_shared_helper_embeds_for_statements_and_reports(tmp_path):
    """C8: split statements and reports use salesops.lib.pdf, whose default font is the embedded TTF."""
    assert shared_pdf.cjk_font_name() == shared_pdf.TTF_FONT
    path = tmp_path / "report.pdf"
    path.write_bytes(shared_pdf.render([Paragraph("贡献值月报 回款推动", shared_pdf.styles()["title"])], title="报表"))
    _assert_cjk_embedded(_fonts(path))
    assert _ink_ratio(path, _word_box(path, "贡献值月报"), tmp_path) > 0.08


def test_zero_tax_prints_zero_percent(tmp_path, alice, customer_a, hip):
    """C8: a 0 % VAT line prints "0%", not "—"."""
    from leads.cash import quotes

    _quote, version = make_quote(customer_a, alice, [(hip, 1, "0")])
    line = version.lines.get()
    quotes.quote_line_update(line=line, by=alice, quantity=1, discount_percent=Decimal("0"), tax_rate_percent=Decimal("0"))
    path = tmp_path / "quote.pdf"
    path.write_bytes(quote_pdf(version))
    text = subprocess.run([_tool("pdftotext"), "-layout", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True).stdout
    row = next(line for line in text.splitlines() if "AK-HIP-01" in line)
    assert "0%" in row.replace(" ", "")
