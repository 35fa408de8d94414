"""Evidence files: validated by content, never by name (V3), and measured (V5, V6).

Each `inspect_*` takes the uploaded bytes and returns an `Inspected` with the detected type, the
SHA-256 and what the file tells about itself (EXIF time and GPS, perceptual hashes, a thumbnail,
pages, duration) — or raises `FileRejected` with a Chinese message that names the problem.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import struct
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from zoneinfo import ZoneInfo

import pillow_heif
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()

SHANGHAI = ZoneInfo("Asia/Shanghai")
MB = 1024 * 1024
DEFAULT_LIMITS = {"photo": 20 * MB, "pdf": 20 * MB, "audio": 25 * MB}
DEFAULT_MAX_PIXELS = 60_000_000  # a 50 MP phone sensor fits; a decompression bomb does not
# Formats that cannot decode at reduced size (PNG, WebP, GIF) are decoded in full: a smaller pixel
# budget, since no phone camera writes them (screenshots are ≤ 15 MP).
DEFAULT_MAX_LOSSLESS_PIXELS = 25_000_000
# Memory the full-size decode may take (pixels × bytes per pixel): 50 MP RGB HEIC = 150 MB fits.
DEFAULT_MAX_DECODE_BYTES = 200 * MB
BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "I;16": 2, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3, "RGBA": 4, "RGBa": 4, "CMYK": 4, "I": 4, "F": 4}
THUMBNAIL_SIZE = (640, 640)

HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
MP4_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"mp42", b"mp41", b"isom", b"iso2", b"iso5", b"iso6", b"3gp4", b"3gp5", b"3gp6", b"dash"}


class FileRejected(Exception):
    """The upload is refused; `message` says why in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Inspected:
    data: bytes
    content_type: str
    extension: str
    sha256: str
    size: int
    width: int | None = None
    height: int | None = None
    exif: dict = field(default_factory=dict)
    taken_at: datetime | None = None
    gps: tuple[float, float] | None = None
    phash: str = ""
    dhash: str = ""
    phash_wide: str = ""
    crop_hash: str = ""
    thumbnail: bytes | None = None
    pages: int | None = None
    duration_seconds: float | None = None
    notes: list[dict] = field(default_factory=list)  # facts about the file worth a flag


def _limit(kind: str) -> int:
    limits = {**DEFAULT_LIMITS, **getattr(settings, "VISITS_MAX_UPLOAD_BYTES", {})}
    return limits[kind]


def read_upload(upload: UploadedFile, kind: str) -> bytes:
    """Read an upload, refusing empty or oversized files before holding them in memory."""
    limit = _limit(kind)
    if upload.size is not None and upload.size > limit:
        raise FileRejected(_("文件过大（%(size).1f MB），上限为 %(limit)d MB。") % {"size": upload.size / MB, "limit": limit // MB})
    chunks, total = [], 0
    for chunk in upload.chunks():
        total += len(chunk)
        if total > limit:
            raise FileRejected(_("文件过大，上限为 %(limit)d MB。") % {"limit": limit // MB})
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise FileRejected(_("文件是空的，请重新选择。"))
    return data


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _inspected(data: bytes, content_type: str, extension: str, **facts) -> Inspected:
    return Inspected(data=data, content_type=content_type, extension=extension, sha256=sha256_of(data), size=len(data), **facts)


def _what_is_it(data: bytes) -> str | None:
    """A human name for common non-evidence formats, so a refusal can say what was sent."""
    if data[:2] == b"MZ":
        return _("Windows 可执行程序")
    if data[:4] == b"\x7fELF":
        return _("可执行程序")
    if data[:4] == b"PK\x03\x04":
        return _("压缩包或 Office 文档")
    if data.lstrip()[:5] == b"%PDF-":
        return "PDF"
    if data[:4] in (b"Rar!", b"7z\xbc\xaf"):
        return _("压缩包")
    if data.lstrip()[:1] in (b"<", b"{"):
        return _("网页或文本")
    return None


def _detect(data: bytes, sniff, refused_as: str, unknown: str) -> tuple[str, str]:
    """(content type, extension) by magic bytes, or a refusal that says what the file is."""
    detected = sniff(data)
    if detected is None:
        what = _what_is_it(data)
        raise FileRejected(refused_as % {"what": what} if what else unknown)
    return detected


# --- Photos -----------------------------------------------------------------------------------


def sniff_image(data: bytes) -> tuple[str, str] | None:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg", ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png", ".png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    if data[4:8] == b"ftyp" and (data[8:12] in HEIF_BRANDS or any(data[i : i + 4] in HEIF_BRANDS for i in range(16, 40, 4))):
        return "image/heic", ".heic"
    return None


def max_pixels() -> int:
    return int(getattr(settings, "VISITS_MAX_IMAGE_PIXELS", DEFAULT_MAX_PIXELS))


def _decode_budget(probe: Image.Image, draft_to) -> None:
    """Refuse before decoding what would cost more than a phone photo: a JPEG decodes at 1/8 scale
    for hashing (DCT scaling), other formats in full, so they get a smaller pixel budget."""
    width, height = probe.size
    draftable = probe.format == "JPEG" and draft_to is not None
    pixel_cap = max_pixels() if draftable or probe.format == "HEIF" else int(getattr(settings, "VISITS_MAX_LOSSLESS_PIXELS", DEFAULT_MAX_LOSSLESS_PIXELS))
    pixel_cap = min(pixel_cap, max_pixels())
    decoded = width * height * BYTES_PER_PIXEL.get(probe.mode, 4)
    if draftable:
        decoded //= 16  # at least 1/4 scale in each direction
    byte_cap = int(getattr(settings, "VISITS_MAX_DECODE_BYTES", DEFAULT_MAX_DECODE_BYTES))
    if width * height > pixel_cap or decoded > byte_cap:
        raise FileRejected(
            _("图片像素过大（%(w)d×%(h)d，%(fmt)s），解码需要的资源超出上限（约 %(mp)d 百万像素），疑似“解压炸弹”，已拒收。请用手机相机直接拍摄后上传。")
            % {"w": width, "h": height, "fmt": probe.format or "", "mp": pixel_cap // 1_000_000}
        )


def open_image(data: bytes, draft_to: tuple[int, int] | None = None) -> Image.Image:
    """Open, bound the pixel count, verify the structure, then reopen and decode the whole file
    (verify() leaves the image unusable, and only decoding every byte finds a truncated file).
    `draft_to` lets a JPEG decode with DCT scaling (all data is still read, 1/4–1/8 of the pixels
    are produced) when only a thumbnail and hashes are needed. `info["original_size"]` keeps the
    real size."""
    limit = max_pixels()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data))
            width, height = probe.size
            if width * height > limit:
                raise FileRejected(
                    _("图片像素过大（%(w)d×%(h)d），上限约 %(mp)d 百万像素，疑似“解压炸弹”，已拒收。")
                    % {"w": width, "h": height, "mp": limit // 1_000_000}
                )
            _decode_budget(probe, draft_to)
            probe.verify()
            image = Image.open(io.BytesIO(data))
            if draft_to and image.format == "JPEG":
                image.draft("RGB", draft_to)
            image.load()
            image.info["original_size"] = (width, height)
        except FileRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            # Pillow's own guard fired first (its header parse already knew the size).
            found = re.search(r"\((\d+) pixels\)", str(exc))
            pixels = int(found.group(1)) if found else 0
            raise FileRejected(
                _("图片像素过大（约 %(found)d 百万像素），上限约 %(mp)d 百万像素，疑似“解压炸弹”，已拒收。")
                % {"found": pixels // 1_000_000, "mp": limit // 1_000_000}
            )
        except UnidentifiedImageError:
            raise FileRejected(_("无法识别的图片内容，请用手机相机重新拍摄。"))
        except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
            if "truncated" in str(exc).lower():
                raise FileRejected(_("图片文件不完整（传输中断或已损坏），请重新上传。"))
            raise FileRejected(_("图片文件已损坏，无法打开：%(error)s") % {"error": str(exc)[:80]})
    return image


def _rational(value) -> float:
    result = float(value)
    if not math.isfinite(result):
        raise ValueError("not a finite number")
    return result


def _degrees(values, ref) -> float | None:
    try:
        if isinstance(values, (int, float)) or not hasattr(values, "__len__"):
            degrees = _rational(values)
        else:
            parts = [_rational(v) for v in values] + [0.0, 0.0]
            degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    ref = ref.decode(errors="ignore") if isinstance(ref, bytes) else str(ref or "")
    if ref.strip().upper() in ("S", "W"):
        degrees = -degrees
    return degrees


def parse_exif_datetime(value, offset=None) -> datetime | None:
    """EXIF times carry no zone: read them as the rep's local time (Asia/Shanghai) unless an
    OffsetTime tag says otherwise. Malformed or zero dates are unknown, not fake."""
    if isinstance(value, bytes):
        value = value.decode(errors="ignore")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 ").strip()
    try:
        naive = datetime.strptime(value[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if isinstance(offset, bytes):
        offset = offset.decode(errors="ignore")
    if isinstance(offset, str) and len(offset.strip()) >= 6 and offset.strip()[0] in "+-":
        text = offset.strip()
        try:
            sign = 1 if text[0] == "+" else -1
            delta = timedelta(hours=int(text[1:3]), minutes=int(text[4:6]))
            return naive.replace(tzinfo=dt_timezone(sign * delta))
        except ValueError:
            pass
    return naive.replace(tzinfo=SHANGHAI)


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode(errors="ignore")
    return str(value).strip("\x00 ").strip() if value is not None else ""


def read_exif(image: Image.Image) -> tuple[dict, datetime | None, tuple[float, float] | None]:
    """(facts for the supervisor, capture time, WGS-84 GPS) — each part may be missing."""
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - a broken EXIF block is "no EXIF", not a broken photo
        return {}, None, None
    facts: dict = {}
    for tag, name in ((0x010F, "make"), (0x0110, "model"), (0x0131, "software"), (0x0132, "datetime"), (0x0112, "orientation")):
        if tag in exif:
            facts[name] = _text(exif[tag]) if name != "orientation" else exif[tag]
    try:
        exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:  # noqa: BLE001
        exif_ifd = {}
    for tag, name in ((0x9003, "datetime_original"), (0x9004, "datetime_digitized"), (0x9011, "offset_time_original")):
        if tag in exif_ifd:
            facts[name] = _text(exif_ifd[tag])
    taken_at, source = None, ""
    for name in ("datetime_original", "datetime_digitized", "datetime"):
        taken_at = parse_exif_datetime(facts.get(name), facts.get("offset_time_original"))
        if taken_at:
            source = name
            break
    if taken_at:
        facts["taken_at_source"] = source
    gps = None
    try:
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:  # noqa: BLE001
        gps_ifd = {}
    if 2 in gps_ifd and 4 in gps_ifd:
        lat, lon = _degrees(gps_ifd[2], gps_ifd.get(1)), _degrees(gps_ifd[4], gps_ifd.get(3))
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0, 0):
            gps = (round(lat, 6), round(lon, 6))
            facts["gps"] = {"latitude": gps[0], "longitude": gps[1]}
            try:
                if 6 in gps_ifd:
                    facts["gps"]["altitude"] = round(_rational(gps_ifd[6]), 1)
            except (TypeError, ValueError, ZeroDivisionError):
                pass
        else:
            facts["gps_malformed"] = True
    return facts, taken_at, gps


def trim_borders(image: Image.Image) -> Image.Image:
    """Cut uniform bars (a screenshot's padding, letterboxing) so a padded copy hashes like the
    photo. Repeated while it removes something, never below a fifth of the picture."""
    from PIL import ImageChops

    for _round in range(4):
        corner = image.getpixel((0, 0))
        difference = ImageChops.difference(image, Image.new(image.mode, image.size, corner)).convert("L")
        box = difference.point(lambda value: 255 if value > 24 else 0).getbbox()
        if not box or box == (0, 0, *image.size) or (box[2] - box[0]) * (box[3] - box[1]) < image.width * image.height // 5:
            break
        image = image.crop(box)
    return image


def photo_hashes(image: Image.Image) -> dict[str, str]:
    """Perceptual hashes from imagehash (maintained, numpy/scipy DCT): a 64-bit pHash and dHash
    (compatible with stored rows), a 256-bit pHash (the reuse index: a 5% crop, a 2° rotation or
    screenshot padding move it by ≤ 70 bits, distinct photos stay ≥ 80 apart), and the
    crop-resistant segment hash (for a supervisor checking a heavily cropped copy)."""
    import imagehash

    trimmed = trim_borders(image.convert("RGB"))
    try:
        crop_resistant = str(imagehash.crop_resistant_hash(trimmed, min_segment_size=500, segmentation_image_size=300))
    except Exception:  # noqa: BLE001 - a flat image has no segments; the other hashes still hold
        crop_resistant = ""
    return {
        "phash": str(imagehash.phash(trimmed)),
        "dhash": str(imagehash.dhash(trimmed)),
        "phash_wide": str(imagehash.phash(trimmed, hash_size=16)),
        "crop_hash": crop_resistant[:2000],
    }


def perceptual_hash(image: Image.Image) -> str:
    return photo_hashes(image)["phash"]


def difference_hash(image: Image.Image) -> str:
    return photo_hashes(image)["dhash"]


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def inspect_photo(data: bytes) -> Inspected:
    content_type, extension = _detect(
        data,
        sniff_image,
        _("这不是照片（检测到：%(what)s），请上传 JPEG、PNG、WebP 或 HEIC 图片。"),
        _("这不是可识别的照片格式，请上传 JPEG、PNG、WebP 或 HEIC 图片。"),
    )
    image = open_image(data, draft_to=THUMBNAIL_SIZE)
    facts, taken_at, gps = read_exif(image)
    facts["format"] = image.format or content_type
    width, height = image.info["original_size"]
    if facts.get("orientation") in (5, 6, 7, 8):
        width, height = height, width
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    # Thumbnail first, hashes from it: the same pipeline for every upload, so a re-saved or
    # resized copy hashes alike, and rotation metadata cannot make a repeat look new.
    thumb = image
    thumb.thumbnail(THUMBNAIL_SIZE, Image.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG", quality=80)
    return _inspected(
        data,
        content_type,
        extension,
        width=width,
        height=height,
        exif=facts,
        taken_at=taken_at,
        gps=gps,
        **photo_hashes(thumb),
        thumbnail=buffer.getvalue(),
    )


# --- PDFs -------------------------------------------------------------------------------------


ACTIVE_NAMES = {b"/JavaScript": "JavaScript", b"/JS": "JavaScript", b"/Launch": _("启动外部程序"), b"/EmbeddedFiles": _("内嵌文件"), b"/AA": _("自动动作"), b"/OpenAction": _("打开时动作"), b"/RichMedia": _("富媒体")}
_PDF_NAME = re.compile(rb"/[A-Za-z#0-9]+")


def _raw_active_names(data: bytes) -> set[str]:
    """Active-content names in the raw bytes, with `#xx` escapes undone (`/J#61vaScript`)."""
    found = set()
    for match in _PDF_NAME.finditer(data):
        name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), match.group())
        if name in ACTIVE_NAMES:
            found.add(name.decode())
    return found


def _tree_active_names(reader) -> set[str]:
    """The same names inside compressed object streams: the catalog, its name trees and each
    page's actions and annotations (first 200 pages)."""
    found: set[str] = set()

    def look(obj, depth=0) -> None:
        if depth > 6:
            return
        try:
            obj = obj.get_object()
        except Exception:  # noqa: BLE001
            return
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key.encode() in ACTIVE_NAMES:
                    found.add(key)
                if key == "/S" and str(value) in ("/JavaScript", "/Launch"):
                    found.add(str(value))
                if key in ("/Names", "/A", "/OpenAction", "/AA", "/Annots", "/JavaScript", "/EmbeddedFiles"):
                    look(value, depth + 1)
        elif isinstance(obj, list):
            for item in obj[:500]:
                look(item, depth + 1)

    try:
        look(reader.trailer["/Root"])
        for page in list(reader.pages)[:200]:
            look(page)
    except Exception:  # noqa: BLE001 - a damaged tree: the raw scan still stands
        pass
    return found


def _open_pdf(data: bytes, notes: list[dict]):
    """(reader, pages) — recovering a damaged xref, opening edit-restricted files (owner password
    only), refusing files that need a password to open."""
    from pypdf import PdfReader
    from pypdf import PasswordType

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception as exc:  # noqa: BLE001
        raise FileRejected(_("PDF 文件已损坏，无法读取（%(error)s）。请用扫描软件重新导出 PDF 后上传。") % {"error": str(exc)[:80]})
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except Exception:  # noqa: BLE001 - an unknown encryption scheme is "needs a password"
            opened = PasswordType.NOT_DECRYPTED
        if opened == PasswordType.NOT_DECRYPTED:
            raise FileRejected(
                _("PDF 已加密（需要密码才能打开），系统无法查看内容。请在签字平台或扫描软件中去掉“打开密码”后重新导出，或打印后重新扫描成 PDF 再上传。")
            )
        notes.append({"code": "pdf_restricted", "level": "info", "message": _("PDF 设有编辑限制（仅所有者密码，常见于电子签章），内容可正常查看")})
    try:
        pages = len(reader.pages)
    except Exception as exc:  # noqa: BLE001
        raise FileRejected(_("PDF 文件已损坏，无法读取页面（%(error)s）。请用扫描软件重新导出 PDF 后上传。") % {"error": str(exc)[:80]})
    try:
        PdfReader(io.BytesIO(data), strict=True).pages[0] if not reader.is_encrypted else None
    except Exception:  # noqa: BLE001 - strict failed, the recovering reader succeeded
        notes.append({"code": "pdf_repaired", "level": "info", "message": _("PDF 交叉引用表损坏，已按修复方式读取")})
    return reader, pages


def inspect_pdf(data: bytes) -> Inspected:
    """A real PDF (F2): the %PDF- header, an end-of-file marker anywhere near the end (bytes after
    `%%EOF` — appended signatures, scanner padding — are accepted and noted), an xref pypdf can read
    to at least one page. Owner-password-only files open; files needing a password are refused.
    Active content (JavaScript, launch actions, embedded files, automatic actions) is flagged for
    the supervisor, and such a file is only ever served as a download."""
    header_at = data.find(b"%PDF-", 0, 1024)
    if header_at < 0:
        what = _what_is_it(data)
        if what and what != "PDF":
            raise FileRejected(_("这不是 PDF 文件（检测到：%(what)s），请上传签字文件的 PDF 扫描件。") % {"what": what})
        raise FileRejected(_("这不是 PDF 文件（缺少 PDF 文件头），请上传签字文件的 PDF 扫描件。"))
    eof_at = data.rfind(b"%%EOF")
    if eof_at < 0:
        raise FileRejected(_("PDF 文件不完整（缺少文件结尾标记），可能上传中断，请重新上传。"))
    notes: list[dict] = []
    trailing = data[eof_at + 5 :].strip(b"\r\n\t \x00")
    if trailing:
        notes.append({"code": "pdf_trailing_bytes", "level": "info", "message": _("PDF 结尾标记后还有 %(n)d 字节附加数据（常见于签章或扫描软件）") % {"n": len(trailing)}})
    pypdf_log = logging.getLogger("pypdf")
    previous_level = pypdf_log.level
    pypdf_log.setLevel(logging.CRITICAL)
    try:
        reader, pages = _open_pdf(data, notes)
        active = _raw_active_names(data) | _tree_active_names(reader)
    finally:
        pypdf_log.setLevel(previous_level)
    if pages < 1:
        raise FileRejected(_("PDF 没有页面，请重新扫描。"))
    if active:
        kinds = sorted({str(ACTIVE_NAMES.get(name.encode(), name)) for name in active})
        notes.append(
            {
                "code": "pdf_active_content",
                "level": "warning",
                "message": _("PDF 含有可执行内容（%(kinds)s），仅供下载查看，请主管核实来源") % {"kinds": "、".join(kinds)},
                "names": sorted(active),
            }
        )
    return _inspected(data, "application/pdf", ".pdf", pages=pages, notes=notes)


# --- Audio ------------------------------------------------------------------------------------


def sniff_audio(data: bytes) -> tuple[str, str] | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav", ".wav"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "audio/webm", ".webm"
    if data[:4] == b"OggS":
        return "audio/ogg", ".ogg"
    if data[:4] == b"fLaC":
        return "audio/flac", ".flac"
    if data[:6] == b"#!AMR\n":
        return "audio/amr", ".amr"
    if data[4:8] == b"ftyp" and data[8:12] in MP4_AUDIO_BRANDS:
        return "audio/mp4", ".m4a"
    if data[:3] == b"ID3":
        return "audio/mpeg", ".mp3"
    if len(data) > 1 and data[0] == 0xFF and (data[1] & 0xF6) == 0xF0:
        return "audio/aac", ".aac"
    if len(data) > 1 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0:
        return "audio/mpeg", ".mp3"
    return None


def _wav_duration(data: bytes) -> float | None:
    """Walk the RIFF chunks: fmt gives the byte rate, data its length."""
    offset, byte_rate, data_size = 12, None, None
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        if chunk_id == b"fmt " and size >= 16:
            byte_rate = struct.unpack("<I", data[offset + 16 : offset + 20])[0]
        elif chunk_id == b"data":
            data_size = min(size, len(data) - offset - 8)
            break
        offset += 8 + size + (size & 1)
    if not byte_rate or data_size is None:
        return None
    return data_size / byte_rate


FFPROBE, FFMPEG = "/usr/bin/ffprobe", "/usr/bin/ffmpeg"
BROWSER_CODECS = {"mp3", "aac", "opus", "vorbis", "flac", "pcm_s16le", "pcm_u8", "pcm_f32le", "pcm_s24le", "pcm_s32le"}
AUDIO_TIMEOUT = 30


def _tool(name: str) -> str:
    path = getattr(settings, f"VISITS_{name.upper()}", FFPROBE if name == "ffprobe" else FFMPEG)
    import os

    if not os.path.exists(path):
        raise FileRejected(_("服务器缺少 %(tool)s（%(path)s），暂时无法检查录音。请联系运维安装 ffmpeg 后重新上传。") % {"tool": name, "path": path})
    return path


def _duration_from_packets(data: bytes) -> float:
    """The end of the last audio packet (pts + duration), for containers that do not state it."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".audio") as handle:
        handle.write(data)
        handle.flush()
        try:
            probed = subprocess.run(
                [_tool("ffprobe"), "-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", handle.name],
                capture_output=True, timeout=AUDIO_TIMEOUT, check=False,
            )
        except subprocess.TimeoutExpired:
            return 0.0
    end = 0.0
    for line in (probed.stdout or b"").decode("ascii", "replace").splitlines():
        parts = line.strip().split(",")
        try:
            end = max(end, float(parts[0]) + (float(parts[1]) if len(parts) > 1 and parts[1] not in ("", "N/A") else 0.0))
        except ValueError:
            continue
    return end


def probe_audio(data: bytes) -> dict:
    """Decode the whole file with ffmpeg (a header that only looks right is not a recording) and
    read codec and duration with ffprobe. Raises FileRejected with what to do."""
    import json
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".audio") as handle:
        handle.write(data)
        handle.flush()
        try:
            probed = subprocess.run(
                [_tool("ffprobe"), "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=codec_name,sample_rate,channels:format=duration,format_name", "-of", "json", handle.name],
                capture_output=True, timeout=AUDIO_TIMEOUT, check=False,
            )
            decoded = subprocess.run([_tool("ffmpeg"), "-v", "error", "-xerror", "-i", handle.name, "-map", "0:a:0", "-f", "null", "-"], capture_output=True, timeout=AUDIO_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise FileRejected(_("录音解码超时（超过 %(s)d 秒），文件可能已损坏，请重新录制后上传。") % {"s": AUDIO_TIMEOUT})
    facts = json.loads(probed.stdout or b"{}") if probed.returncode == 0 else {}
    streams = facts.get("streams") or []
    if probed.returncode != 0 or not streams or decoded.returncode != 0:
        raise FileRejected(_("录音文件无法解码（内容损坏或不是真正的录音），请用手机录音功能重新录制后上传。"))
    try:
        duration = float((facts.get("format") or {}).get("duration") or 0)
    except ValueError:
        duration = 0.0
    if duration <= 0.05:
        duration = _duration_from_packets(data)  # a browser's MediaRecorder WebM has no duration header
    if duration <= 0.05:
        raise FileRejected(_("录音太短或没有声音数据，请重新录制。"))
    return {"codec": streams[0].get("codec_name", ""), "duration": duration, "container": (facts.get("format") or {}).get("format_name", "")}


def playable_copy(data: bytes) -> bytes:
    """An AAC/M4A copy that every browser plays (for AMR and other codecs they cannot)."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".audio") as source, tempfile.NamedTemporaryFile(suffix=".m4a") as target:
        source.write(data)
        source.flush()
        result = subprocess.run(
            [_tool("ffmpeg"), "-v", "error", "-y", "-i", source.name, "-map", "0:a:0", "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", target.name],
            capture_output=True, timeout=AUDIO_TIMEOUT * 2, check=False,
        )
        if result.returncode != 0:
            raise FileRejected(_("无法生成可播放的录音副本，请下载原文件收听。"))
        return target.read()


def inspect_audio(data: bytes) -> Inspected:
    """F3: sniffed by content, then decoded for real with ffmpeg; codec and duration recorded.
    A codec browsers cannot play (AMR …) is noted: the page serves an AAC copy, the original stays."""
    content_type, extension = _detect(
        data,
        sniff_audio,
        _("这不是录音文件（检测到：%(what)s），支持 WAV、MP3、M4A、WebM、OGG、AMR、FLAC。"),
        _("无法识别的录音格式，支持 WAV、MP3、M4A、WebM、OGG、AMR、FLAC。"),
    )
    if len(data) < 64:
        raise FileRejected(_("录音太短或为空，请重新录制。"))
    facts = probe_audio(data)
    notes = [{"code": "audio_codec", "level": "info", "message": _("编码 %(codec)s，时长 %(s).1f 秒") % {"codec": facts["codec"], "s": facts["duration"]}, "codec": facts["codec"]}]
    if facts["codec"] not in BROWSER_CODECS:
        notes.append({"code": "audio_transcoded", "level": "info", "message": _("浏览器无法直接播放 %(codec)s，页面播放转码副本，原文件保留") % {"codec": facts["codec"]}})
    return _inspected(data, content_type, extension, duration_seconds=round(facts["duration"], 2), notes=notes)


def inspect(kind: str, data: bytes) -> Inspected:
    """kind is a module kind: photo, signed_document/document (PDF), voice_memo."""
    if kind == "photo":
        return inspect_photo(data)
    if kind in ("signed_document", "document"):
        return inspect_pdf(data)
    if kind == "voice_memo":
        return inspect_audio(data)
    raise ValueError(f"not a file module: {kind}")


def limit_kind(module_kind: str) -> str:
    return {"photo": "photo", "voice_memo": "audio"}.get(module_kind, "pdf")
