"""C1: the quote as a PDF with correct Chinese text — checked by extracting it with pdftotext,
with the CID fallback font and with an embedded TTF (WenQuanYi)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from leads.cash.pdf import quote_pdf

from .helpers import make_quote

pytestmark = pytest.mark.django_db
WQY = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


def pdftotext(data: bytes, tmp_path: Path) -> str:
    source = tmp_path / "quote.pdf"
    source.write_bytes(data)
    result = subprocess.run([shutil.which("pdftotext") or "pdftotext", "-enc", "UTF-8", str(source), "-"], capture_output=True, check=True)
    return result.stdout.decode()


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.fixture
def sent_quote(alice, customer_a, hip, screw):
    return make_quote(customer_a, alice, [(hip, 2, "0"), (screw, 1, "7.5")], send=True)


def _assert_quote_text(text: str, quote, version) -> None:
    flat = _squash(text)
    assert "浙江省人民医院骨科" in flat  # customer
    assert "报价单" in flat and quote.number in flat and "v1" in flat
    assert "人民币柒万肆仟捌佰柒拾玖元肆角伍分" in flat
    assert "74,879.45" in flat
    assert "艾丽" in flat  # the rep
    assert version.valid_until.isoformat() in flat
    assert "人工髋关节假体" in flat and "SP-PED-01" in flat


def test_pdf_chinese_text_is_extractable_with_the_cid_font(settings, tmp_path, sent_quote):
    """C1: no TTF configured → STSong-Light (not embedded); pdftotext still reads the Chinese."""
    settings.PDF_TTF_FONT = ""
    quote, version = sent_quote
    data = quote_pdf(version)
    assert data.startswith(b"%PDF") and b"STSong-Light" in data
    _assert_quote_text(pdftotext(data, tmp_path), quote, version)


def test_pdf_embeds_the_configured_ttf_and_stays_extractable(settings, tmp_path, sent_quote):
    """C1: PDF_TTF_FONT=WenQuanYi → the font is embedded (FontFile2) and the text extracts."""
    settings.PDF_TTF_FONT = WQY
    quote, version = sent_quote
    data = quote_pdf(version)
    assert b"FontFile2" in data and b"STSong-Light" not in data
    _assert_quote_text(pdftotext(data, tmp_path), quote, version)


def test_pdf_download_is_scoped_like_the_quote(client, alice, carol, charlie, bob, diana, sent_quote):
    """A3: the rep, the team supervisor and the director download; another team's rep and a
    teammate who never worked the customer get 404, as does a guessed version."""
    quote, version = sent_quote
    url = f"/cash/quotes/{quote.pk}/v1/pdf/"
    for user in (alice, carol, diana):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert "attachment" in response["Content-Disposition"] and quote.number in response["Content-Disposition"]
    for user in (charlie, bob):
        client.force_login(user)
        assert client.get(url).status_code == 404
    client.force_login(alice)
    assert client.get(f"/cash/quotes/{quote.pk}/v9/pdf/").status_code == 404


def test_a_draft_pdf_says_it_is_not_an_offer(settings, tmp_path, alice, customer_a, hip):
    settings.PDF_TTF_FONT = ""
    _quote, version = make_quote(customer_a, alice, [(hip, 1, "0")])
    assert "非正式报价" in _squash(pdftotext(quote_pdf(version), tmp_path))
