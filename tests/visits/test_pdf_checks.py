"""F2: PDFs as scanners and e-signature tools make them — built from a real signed-form PDF
(tests/visits/data, py-pdf/sample-files, CC BY-SA 4.0) with pypdf's own writer."""

import io

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript

from visits import media

from .factories import data_file

REAL = "reportlab-overlay_signed-form.pdf"


def rewritten(**encrypt) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data_file(REAL))))
    if encrypt:
        writer.encrypt(algorithm="AES-256", **encrypt)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def codes(inspected) -> set[str]:
    return {note["code"] for note in inspected.notes}


def test_bytes_after_eof_are_accepted_and_noted():
    """F2: a signed PDF with a trailer appended after %%EOF (signature tools, scanners) opens."""
    data = data_file(REAL) + b"\n" + b"SIGNATURE-BLOCK " * 300
    inspected = media.inspect_pdf(data)
    assert inspected.pages >= 1 and "pdf_trailing_bytes" in codes(inspected)


def test_an_edit_restricted_pdf_with_only_an_owner_password_is_accepted():
    """F2: e-signature output: anyone can open it, editing needs the owner password."""
    inspected = media.inspect_pdf(rewritten(user_password="", owner_password="owner-secret"))
    assert inspected.pages >= 1 and "pdf_restricted" in codes(inspected)


def test_a_pdf_that_needs_a_password_to_open_is_refused_as_encrypted_with_what_to_do():
    """F2: never "damaged, rescan" for an encrypted file: say it is encrypted and how to fix it."""
    with pytest.raises(media.FileRejected) as refused:
        media.inspect_pdf(rewritten(user_password="open-secret", owner_password="owner-secret"))
    assert refused.value.message.startswith("PDF 已加密") and "去掉“打开密码”" in refused.value.message


@pytest.mark.parametrize(
    ("make", "names"),
    [
        (lambda writer: writer.add_open_action(JavaScript("app.alert('x');")), {"/JavaScript"}),
        (lambda writer: writer.add_attachment("payload.exe", b"MZ..."), {"/EmbeddedFiles"}),
    ],
)
def test_active_content_is_flagged_as_a_warning(make, names):
    """F2: JavaScript (an /OpenAction running JS) and embedded files are flagged for the supervisor."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data_file(REAL))))
    make(writer)
    buffer = io.BytesIO()
    writer.write(buffer)
    inspected = media.inspect_pdf(buffer.getvalue())
    note = next(note for note in inspected.notes if note["code"] == "pdf_active_content")
    assert note["level"] == "warning" and names <= set(note["names"]) and "请主管核实" in note["message"]


def test_escaped_names_in_raw_bytes_are_found():
    """F2: `/J#61vaScript` is /JavaScript to a PDF reader, and to us."""
    assert media._raw_active_names(b"<< /S /J#61vaScript /JS (x) >> /Launch") == {"/JavaScript", "/JS", "/Launch"}


def test_a_plain_signed_form_has_no_flags():
    assert codes(media.inspect_pdf(data_file(REAL))) == set()


@pytest.mark.django_db
def test_a_pdf_with_javascript_is_only_ever_served_as_a_download(client, task, alice):
    """F2 at the serving view: Content-Disposition is attachment even without ?download=1."""
    from visits import services
    from visits.models import ModuleKind

    from .factories import upload
    from .test_authenticity import module_of

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data_file(REAL))))
    writer.add_open_action(JavaScript("app.alert('x');"))
    buffer = io.BytesIO()
    writer.write(buffer)
    module = module_of(task, ModuleKind.SIGNED_DOCUMENT)
    evidence = services.evidence_add(task=task, module=module, upload=upload("确认书.pdf", buffer.getvalue(), "application/pdf"), by=alice)
    assert evidence.flagged
    client.force_login(alice)
    response = client.get(f"/visits/evidence/{evidence.pk}/file/")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
