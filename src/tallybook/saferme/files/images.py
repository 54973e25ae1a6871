"""Pillow's part: an upload checked to be an image, and its renditions.

Renditions are made once, at upload: each fits its box (``types.RENDITION_BOXES``) with
the aspect ratio kept and never enlarged, after the EXIF orientation is applied (a phone's
portrait photo is stored landscape with a rotate tag). JPEG stays JPEG; PNG and GIF become
PNG, which keeps transparency.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from tallybook.kit.errors import BadRequest
from tallybook.saferme.types import RENDITION_BOXES, Rendition

MAX_PIXELS: Final = 60_000_000
"""Images larger than this (width × height) are refused before they are decoded: a small
file can declare a huge image (a decompression bomb)."""

FORMATS: Final = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
}
"""What an Image field takes (reports.md): Pillow's format → content type, extension."""


@dataclass(frozen=True)
class Processed:
    content_type: str
    extension: str
    rendition_type: str
    rendition_extension: str
    width: int
    height: int
    renditions: dict[Rendition, bytes]


class NotAnImage(BadRequest):
    code = "invalid"


def process(raw: bytes) -> Processed:
    """The image's facts and its renditions; 400 when it is not a PNG, JPEG or GIF image
    that Pillow can decode."""
    try:
        with Image.open(BytesIO(raw)) as image:
            if image.format not in FORMATS:
                raise NotAnImage("The file must be a PNG, JPEG or GIF image.")
            if image.width * image.height > MAX_PIXELS:
                raise NotAnImage(f"The image has more than {MAX_PIXELS:,} pixels.")
            content_type, extension = FORMATS[image.format]
            image.load()
            oriented = ImageOps.exif_transpose(image)
            jpeg = image.format == "JPEG"
            renditions = {
                rendition: _rendition(oriented, box, jpeg=jpeg)
                for rendition, box in RENDITION_BOXES.items()
            }
            width, height = oriented.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        raise NotAnImage("The file is not an image that can be read.") from None
    rendition_type, rendition_extension = ("image/jpeg", "jpg") if jpeg else ("image/png", "png")
    return Processed(
        content_type,
        extension,
        rendition_type,
        rendition_extension,
        width,
        height,
        renditions,
    )


def _rendition(image: Image.Image, box: tuple[int, int], *, jpeg: bool) -> bytes:
    copy = image.convert("RGB" if jpeg else "RGBA")
    copy.thumbnail(box, Image.Resampling.LANCZOS)
    out = BytesIO()
    if jpeg:
        copy.save(out, "JPEG", quality=85, optimize=True)
    else:
        copy.save(out, "PNG", optimize=True)
    return out.getvalue()
