"""Real evidence files made on the spot: JPEG photos with EXIF written by Pillow (time, GPS,
camera), signed 《产品试用确认书》 PDFs made with reportlab, short WAV memos. The demo seed, the
tests and the benchmark use them; every output is deterministic for a given seed."""

from __future__ import annotations

import io
import math
import random
import struct
import wave
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from PIL.ExifTags import IFD

FONT_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


@lru_cache(maxsize=4)
def _font(size: int):
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return float(degrees), float(minutes), seconds


def exif_block(*, taken_at: datetime | None, gps: tuple[float, float] | None, make: str = "Apple", model: str = "iPhone 14") -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = make, model, "SalesOps demo camera"
    if taken_at is not None:
        stamp = taken_at.strftime("%Y:%m:%d %H:%M:%S")
        exif[0x0132] = stamp
        exif_ifd = exif.get_ifd(IFD.Exif)
        exif_ifd[0x9003] = stamp
        exif_ifd[0x9004] = stamp
    if gps is not None:
        lat, lon = gps
        gps_ifd = exif.get_ifd(IFD.GPSInfo)
        gps_ifd[1] = "N" if lat >= 0 else "S"
        gps_ifd[2] = _dms(lat)
        gps_ifd[3] = "E" if lon >= 0 else "W"
        gps_ifd[4] = _dms(lon)
    return exif


def make_photo(
    *,
    seed: int | str,
    text: str = "骨科",
    taken_at: datetime | None = None,
    gps: tuple[float, float] | None = None,
    size: tuple[int, int] = (800, 600),
    quality: int = 82,
    noise: bool = False,
) -> bytes:
    """A door-plate-like photo: a wall with random shapes (so each seed looks different to a
    perceptual hash) and a plate with the department name. `noise=True` makes a large, hard to
    compress image (for the 5 MB benchmark)."""
    rng = random.Random(str(seed))
    width, height = size
    if noise:
        image = Image.frombytes("RGB", size, rng.randbytes(width * height * 3))
    else:
        image = Image.new("RGB", size, tuple(rng.randrange(120, 230) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(0 if noise else 12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(40, width // 2), y0 + rng.randrange(40, height // 2)
        colour = tuple(rng.randrange(0, 255) for _ in range(3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    plate = (width // 4, height // 3, width * 3 // 4, height * 2 // 3)
    draw.rectangle(plate, fill=(20, 70, 140), outline=(240, 240, 240), width=max(2, width // 200))
    font = _font(max(12, height // 10))
    draw.text(((plate[0] + plate[2]) // 2, (plate[1] + plate[3]) // 2), text, fill=(255, 255, 255), font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif_block(taken_at=taken_at, gps=gps))
    return buffer.getvalue()


def make_pdf(*, title: str = "《产品试用确认书》", hospital: str = "", department: str = "", signer: str = "", when: datetime | None = None, seed: int | str = 0) -> bytes:
    """A one-page signed confirmation made with reportlab (Chinese text, a drawn signature)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    from salesops.lib.pdf import cjk_font_name

    rng = random.Random(str(seed))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    pdf.setTitle(title)
    font = cjk_font_name()
    width, height = A4
    pdf.setFont(font, 20)
    pdf.drawCentredString(width / 2, height - 80, title)
    pdf.setFont(font, 12)
    lines = [
        f"医院：{hospital}",
        f"科室：{department}",
        "兹确认已收到试用产品并同意在本科室开展临床试用。",
        f"日期：{when:%Y年%m月%d日}" if when else "日期：",
        f"科室负责人签字：{signer}",
    ]
    for index, line in enumerate(lines):
        pdf.drawString(72, height - 140 - index * 28, line)
    path = pdf.beginPath()
    x, y = 240, height - 140 - 4 * 28 - 30
    path.moveTo(x, y)
    for _ in range(6):
        path.curveTo(x + rng.randrange(5, 30), y + rng.randrange(-20, 25), x + rng.randrange(20, 50), y + rng.randrange(-25, 20), x + rng.randrange(30, 60), y)
        x += rng.randrange(30, 60)
    pdf.setLineWidth(1.4)
    pdf.drawPath(path, stroke=1, fill=0)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def make_wav(*, seconds: float = 1.5, seed: int | str = 0, rate: int = 8000) -> bytes:
    """A short mono 16-bit PCM memo (a few tones, so it is not silence)."""
    rng = random.Random(str(seed))
    tones = [rng.randrange(200, 800) for _ in range(3)]
    frames = bytearray()
    total = int(seconds * rate)
    for index in range(total):
        tone = tones[index * len(tones) // total]
        frames += struct.pack("<h", int(8000 * math.sin(2 * math.pi * tone * index / rate)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()
