"""Download file names: a safe stem, and the ``Content-Disposition`` that carries it.

RFC 6266: ``attachment; filename="<ASCII>"``, plus ``filename*=UTF-8''<percent-encoded>``
(RFC 8187) when the name has characters beyond ASCII; browsers prefer ``filename*`` and
older clients read the ASCII one.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from tallybook.kit.tabular.formats import FileFormat

FALLBACK_STEM = "download"
MAX_STEM_BYTES = 150  # UTF-8; with the extension well under the 255 most file systems allow

_KEPT_PUNCTUATION = frozenset(" -_.,()[]+")
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{d}{n}" for d in ("COM", "LPT") for n in range(1, 10)]
)
_REPLACED = "_"
_TRIMMED = " ._"
_RUNS = re.compile(r"_{2,}| {2,}")


def safe_stem(stem: str) -> str:
    """The stem with only letters, digits, marks and ``-_.,()[]+`` and spaces.

    Anything else (path separators, quotes, control and format characters such as the
    right-to-left override, symbols) becomes ``_``; runs of ``_`` or spaces shrink to one;
    dots, spaces and ``_`` go from both ends (a leading dot hides a file; Windows drops
    trailing ones); Windows device names get a ``_`` in front; at most ``MAX_STEM_BYTES`` bytes of
    UTF-8. Nothing left gives ``download``.
    """
    normal = unicodedata.normalize("NFC", stem)
    kept = "".join(ch if _allowed(ch) else _REPLACED for ch in normal)
    kept = _RUNS.sub(lambda run: run.group()[0], kept)
    kept = _shorten(kept.strip(_TRIMMED), MAX_STEM_BYTES).strip(_TRIMMED)
    if not kept:
        return FALLBACK_STEM
    if kept.split(".", 1)[0].upper() in _WINDOWS_DEVICES:
        kept = "_" + kept
    return kept


def ascii_stem(stem: str) -> str:
    """An ASCII version of a safe stem: accents dropped (``Työ`` → ``Tyo``), other
    characters beyond ASCII removed."""
    decomposed = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    return safe_stem(decomposed)


def content_disposition(stem: str, file_format: FileFormat) -> str:
    return attachment(stem, file_format.value)


def attachment(stem: str, extension: str) -> str:
    """``Content-Disposition`` for a file of any kind (a text transcript, say) named
    ``<safe stem>.<extension>``; ``extension`` is the caller's own, plain ASCII."""
    safe = safe_stem(stem)
    fallback = f"{ascii_stem(safe)}.{extension}"
    header = f'attachment; filename="{fallback}"'
    full = f"{safe}.{extension}"
    if full != fallback:
        header += f"; filename*=UTF-8''{quote(full, safe='')}"
    return header


def _allowed(ch: str) -> bool:
    return ch in _KEPT_PUNCTUATION or unicodedata.category(ch)[0] in "LNM"


def _shorten(text: str, max_bytes: int) -> str:
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode(errors="ignore")
