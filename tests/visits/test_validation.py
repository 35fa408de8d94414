"""V3 — uploads are validated by content, not by name, with a clear Chinese message per refusal."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.urls import reverse

from visits import media, services
from visits.models import Evidence, ModuleKind

from .conftest import module_of
from .factories import data_file, upload

pytestmark = pytest.mark.django_db


def _refusal(task, kind, name, data):
    with pytest.raises(media.FileRejected) as refused:
        services.evidence_add(task=task, module=module_of(task, kind), upload=upload(name, data), by=task.rep)
    assert not Evidence.objects.exists()
    return refused.value.message


def renamed_exe() -> bytes:
    """A minimal Windows PE: 'MZ' header, DOS stub, 'PE\\0\\0' signature."""
    header = bytearray(b"MZ" + b"\x90\x00" * 29 + b"\x00" * 2)
    header += b"\x00" * (0x3C - len(header)) + struct.pack("<I", 0x80)
    header += b"\x00" * (0x80 - len(header)) + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 200
    return bytes(header)


def decompression_bomb(side: int = 30000) -> bytes:
    """A real PNG bomb: 30000×30000 1-bit pixels (900 MP) that compress to ~100 KB."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_renamed_exe_as_jpg_is_refused(task):
    """V3: a program renamed IMG_0001.jpg is not a photo."""
    message = _refusal(task, ModuleKind.PHOTO, "IMG_0001.jpg", renamed_exe())
    assert "不是照片" in message and "可执行程序" in message


def test_truncated_jpeg_is_refused(task):
    """V3: a photo cut off in transfer is refused (a full decode finds it)."""
    whole = data_file("gps_DSCN0010.jpg")
    message = _refusal(task, ModuleKind.PHOTO, "IMG_0002.jpg", whole[: len(whole) // 2])
    assert "不完整" in message or "损坏" in message


def test_truncated_large_jpeg_is_refused_even_with_scaled_decoding(task):
    """V3: big JPEGs decode at 1/4 scale for speed; every byte is still read, so a cut file fails."""
    from visits.samples import make_photo

    whole = make_photo(seed="big", size=(2400, 1800), noise=True)
    message = _refusal(task, ModuleKind.PHOTO, "IMG_0003.jpg", whole[: int(len(whole) * 0.8)])
    assert "不完整" in message or "损坏" in message


def test_decompression_bomb_is_refused_before_decoding(task):
    """V3: the pixel count is bounded: a 900-megapixel PNG is refused by its header."""
    message = _refusal(task, ModuleKind.PHOTO, "bomb.png", decompression_bomb())
    assert "解压炸弹" in message and "900 百万像素" in message


def test_pdf_that_is_not_a_pdf_is_refused(task):
    """V3: a text file named .pdf is refused for the signed document."""
    message = _refusal(task, ModuleKind.SIGNED_DOCUMENT, "确认书.pdf", "这是一个文本文件，不是PDF。\n".encode() * 20)
    assert "不是 PDF" in message


def test_photo_uploaded_as_the_signed_pdf_is_refused(task):
    """V3: a JPEG in the PDF slot is named for what it is not."""
    message = _refusal(task, ModuleKind.SIGNED_DOCUMENT, "scan.pdf", data_file("noexif.jpg"))
    assert "不是 PDF" in message


def test_truncated_pdf_is_refused(task):
    """V3: a PDF without its end-of-file marker (upload cut short) is refused."""
    whole = data_file("reportlab-overlay_signed-form.pdf")
    message = _refusal(task, ModuleKind.SIGNED_DOCUMENT, "scan.pdf", whole[: len(whole) // 2])
    assert "不完整" in message


def test_empty_and_oversized_files_are_refused(task, settings):
    """V3: size limits, and an empty file, answered in Chinese."""
    assert "空" in _refusal(task, ModuleKind.PHOTO, "a.jpg", b"")
    settings.VISITS_MAX_UPLOAD_BYTES = {"photo": 100_000}
    assert "文件过大" in _refusal(task, ModuleKind.PHOTO, "big.jpg", data_file("gps_DSCN0010.jpg"))


def test_heif_named_jpg_is_accepted_as_heic_with_its_exif(task):
    """V3: an iPhone-style HEIF named .jpg is identified by content and read (pillow-heif)."""
    evidence = services.evidence_add(
        task=task, module=module_of(task, ModuleKind.PHOTO), upload=upload("IMG_1234.jpg", data_file("HMD_Nokia_8.3_5G_hdr.heif")), by=task.rep
    )
    assert evidence.content_type == "image/heic"
    assert evidence.file.name.endswith(".heic")
    assert (evidence.width, evidence.height) == (4608, 3456)
    assert float(evidence.gps_latitude) == pytest.approx(40.662993, abs=1e-5)
    assert evidence.exif["taken_at_source"] == "datetime"  # only IFD0 DateTime in this file
    assert evidence.thumbnail.name.endswith(".jpg")


def test_real_pdf_is_accepted_with_page_count(task):
    evidence = services.evidence_add(
        task=task, module=module_of(task, ModuleKind.SIGNED_DOCUMENT), upload=upload("签字.pdf", data_file("reportlab-overlay_signed-form.pdf")), by=task.rep
    )
    assert evidence.content_type == "application/pdf" and evidence.pages == 1 and evidence.flags == []


def test_malformed_but_recoverable_pdf_is_accepted_and_noted(task):
    """V3: a scanner PDF with a broken xref that a recovering reader opens is kept (refusing a real
    signed scan helps nobody) and the repair is noted for the supervisor."""
    evidence = services.evidence_add(
        task=task, module=module_of(task, ModuleKind.SIGNED_DOCUMENT), upload=upload("scan.pdf", data_file("malformed_broken-xref_issue-297.pdf")), by=task.rep
    )
    assert evidence.pages == 1
    # F2: this real sample also opens with a JavaScript alert (/OpenAction → /S /JavaScript).
    assert [flag["code"] for flag in evidence.flags] == ["pdf_repaired", "pdf_active_content"] and evidence.flagged


def test_voice_memo_wav_is_accepted_with_duration(task):
    evidence = services.evidence_add(
        task=task, module=module_of(task, ModuleKind.VOICE_MEMO), upload=upload("memo.mp3", data_file("zh_aishell1_BAC009S0724W0121.wav")), by=task.rep
    )
    assert evidence.content_type == "audio/wav"  # by content, not by the .mp3 name
    assert float(evidence.duration_seconds) == pytest.approx(4.28, abs=0.01)


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 600, "audio/webm"),
        (b"\x00\x00\x00\x1cftypM4A " + b"\x00" * 600, "audio/mp4"),
        (b"OggS" + b"\x00" * 600, "audio/ogg"),
        (b"ID3" + b"\x00" * 600, "audio/mpeg"),
        (b"#!AMR\n" + b"\x00" * 600, "audio/amr"),
    ],
)
def test_audio_type_is_sniffed_from_magic_bytes_but_junk_behind_it_is_refused(data, expected):
    """V3: MediaRecorder (WebM/MP4), WeChat (AMR) and common uploads are known by their bytes;
    F3: the magic bytes alone are not a recording — junk behind them does not decode."""
    assert media.sniff_audio(data)[0] == expected
    with pytest.raises(media.FileRejected) as refused:
        media.inspect_audio(data)
    assert "无法解码" in refused.value.message and "重新录制" in refused.value.message


def test_a_photo_is_not_a_voice_memo(task):
    message = _refusal(task, ModuleKind.VOICE_MEMO, "memo.m4a", data_file("noexif.jpg"))
    assert "录音" in message


def test_refusal_is_shown_next_to_the_field_over_http(client, alice, task):
    """V3: the page answers 400 with the message at the upload; nothing is stored."""
    client.force_login(alice)
    module = module_of(task, ModuleKind.PHOTO)
    response = client.post(
        reverse("visits:evidence_upload", args=[task.pk, module.pk]), {"file": upload("IMG.jpg", renamed_exe())}
    )
    assert response.status_code == 400
    assert "不是照片" in response.content.decode()
    assert not Evidence.objects.exists()


def test_refusal_as_json_for_the_recorder(client, alice, task):
    client.force_login(alice)
    module = module_of(task, ModuleKind.VOICE_MEMO)
    response = client.post(
        reverse("visits:evidence_upload", args=[task.pk, module.pk]), {"file": upload("memo.webm", b"hello")}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400 and "录音" in response.json()["errors"]["file"][0]


def test_needs_free_text_is_at_most_ten_characters_and_choices_come_from_the_list(task):
    """V3: each need is a choice from the list plus ≤ 10 characters."""
    from django.core.exceptions import ValidationError

    module = module_of(task, ModuleKind.NEEDS)
    with pytest.raises(ValidationError) as refused:
        services.needs_capture(
            task=task, module=module, items=[(module.choices[0], "一二三四五六七八九十一"), ("随便写的", ""), (module.choices[2], "")], by=task.rep
        )
    text = " ".join(refused.value.messages)
    assert "第 1 条需求：补充说明最多 10 个字（现在 11 个）" in text
    assert "第 2 条需求：请从列表中选择" in text


def test_needs_form_over_http(client, alice, task):
    client.force_login(alice)
    module = module_of(task, ModuleKind.NEEDS)
    url = reverse("visits:needs_save", args=[task.pk, module.pk])
    bad = client.post(url, {"choice_1": module.choices[0], "choice_2": module.choices[1]})
    assert bad.status_code == 400 and "正好 3 条" in bad.content.decode()
    good = client.post(url, {"choice_1": module.choices[0], "text_1": "十字以内", "choice_2": module.choices[1], "choice_3": module.choices[3]})
    assert good.status_code == 302
    assert [str(need) for need in task.current_needs()] == [f"{module.choices[0]}：十字以内", module.choices[1], module.choices[3]]


def test_image_helpers_reject_unknown_bytes():
    with pytest.raises(media.FileRejected):
        media.inspect_photo(io.BytesIO(b"just text").getvalue())
