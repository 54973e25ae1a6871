from __future__ import annotations

from pydantic import Field

from tallybook.kit.schemas import OutputModel, Timestamp


class Styles(OutputModel):
    thumb: str = Field(description="Absolute URL of the rendition that fits 100×100.")
    medium: str = Field(description="Absolute URL of the rendition that fits 600×600.")


class FileAttachment(OutputModel):
    id: int
    content_type: str
    filename: str | None
    original_url: str
    styles: Styles
    style_url: Styles = Field(description="The same as styles (SaferMe's reports name it so).")
    width: int
    height: int
    byte_size: int
    ready_to_attach: bool = True
    created_at: Timestamp
