"""U2: a derived copy of a photo with the capture time and place printed on it. The original
upload is never touched (it stays byte-identical and hashed); this copy is what a person shows."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, ImageOps

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


@lru_cache(maxsize=8)
def _font(size: int):
    configured = getattr(settings, "VISITS_WATERMARK_FONT", "")
    for path in (configured, *FONT_CANDIDATES):
        if path and Path(path).is_file():
            try:
                return ImageFont.truetype(path, size)
            except OSError:
                continue
    return ImageFont.load_default(size)


def watermark_copy(image: Image.Image, lines: list[str]) -> bytes:
    """A JPEG of `image` (already decoded and upright) at most VISITS_WATERMARK_MAX_EDGE wide, with
    `lines` on a dark band at the bottom."""
    max_edge = int(getattr(settings, "VISITS_WATERMARK_MAX_EDGE", 1600))
    copy = image.copy()
    copy.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    if copy.mode != "RGB":
        copy = copy.convert("RGB")
    width, height = copy.size
    size = max(12, min(width, height) // 28)
    font = _font(size)
    padding = size // 2
    band = len(lines) * (size + padding // 2) + padding * 2
    overlay = Image.new("RGBA", copy.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, height - band, width, height), fill=(0, 0, 0, 140))
    y = height - band + padding
    for line in lines:
        draw.text((padding, y), line, font=font, fill=(255, 255, 255, 235))
        y += size + padding // 2
    result = Image.alpha_composite(copy.convert("RGBA"), overlay).convert("RGB")
    buffer = io.BytesIO()
    result.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def watermark_photo(data: bytes, lines: list[str]) -> bytes | None:
    """The watermarked copy of an uploaded photo's bytes, or None when it cannot be decoded here
    (the evidence is kept all the same; only the derived copy is missing)."""
    from . import media

    try:
        image = media.open_image(data, draft_to=(int(getattr(settings, "VISITS_WATERMARK_MAX_EDGE", 1600)),) * 2)
        ImageOps.exif_transpose(image, in_place=True)
        return watermark_copy(image, lines)
    except Exception:  # noqa: BLE001 - a derived copy never blocks the evidence itself
        return None
