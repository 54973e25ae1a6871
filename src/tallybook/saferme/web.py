"""What every v4 route shares on the HTTP side."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Depends, Request

from tallybook.kit.errors import error_responses
from tallybook.settings import Settings

PREFIX: Final = "/api/v4/"
"""Every v4 path starts so; error bodies under it also carry ``error`` (DESIGN §9)."""

UPLOAD_PATH: Final = "/api/v4/file_attachments"
MULTIPART_ALLOWANCE: Final = 64 * 1024
"""Bytes of a multipart upload beyond the file itself (boundaries, part headers): the body
may be this much larger than ``TALLYBOOK_ATTACHMENT_MAX_BYTES``."""

V4_ERRORS: dict[int | str, dict[str, Any]] = error_responses(400, 401, 403, 404)


def base_url(request: Request) -> str:
    """The base of absolute links: ``TALLYBOOK_PUBLIC_URL``, else the request's own."""
    public: str | None = request.app.state.settings.public_url
    return (public or str(request.base_url)).rstrip("/")


BaseUrl = Annotated[str, Depends(base_url)]


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(app_settings)]


def orderby_pattern(fields: tuple[str, ...]) -> str:
    """The OpenAPI pattern of an ``orderby`` of ``<field> <direction>`` clauses."""
    names = "|".join(name.replace(".", "\\.") for name in fields)
    clause = f"({names}) (asc|desc)"
    return f"^{clause}(,{clause})*$"
