"""Answers of source data, written as the rows come, so memory holds one batch whatever the
answer's size: the JSON (``{"fields": [...], "data": [``, the rows batch by batch, then
``]}``) and the CSV or XLSX download."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import orjson
from fastapi.responses import StreamingResponse

from tallybook.events.store import EventStore
from tallybook.funnels import service
from tallybook.funnels.service import OpenRows, SourceRows
from tallybook.kit.tabular import MEDIA_TYPES, FileFormat, chunks_response, download_response


def json_rows(rows: OpenRows) -> StreamingResponse:
    return StreamingResponse(_json_chunks(rows), media_type="application/json")


def _json_chunks(rows: OpenRows) -> Iterator[bytes]:
    shape = rows.shape
    yield b'{"fields":' + orjson.dumps(shape.fields()) + b',"data":['
    separator = b""
    for batch in rows.batches():
        chunk = orjson.dumps(shape.objects(batch))[1:-1]
        if chunk:
            yield separator + chunk
            separator = b","
    yield b"]}"


FILE_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "The rows as a file (`Content-Disposition` names it), streamed.",
        "content": {
            MEDIA_TYPES[FileFormat.CSV].split(";")[0]: {"schema": {"type": "string"}},
            MEDIA_TYPES[FileFormat.XLSX]: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
"""The OpenAPI entry of a download's answer: CSV or XLSX, not JSON."""


def file_rows(store: EventStore, rows: SourceRows, file_format: str) -> StreamingResponse:
    """The same rows and columns as the JSON answer, as a CSV or XLSX download
    (``kit.tabular``: streamed, memory flat in the number of rows)."""
    chosen = FileFormat(file_format)
    if chosen is FileFormat.CSV:
        return chunks_response(service.csv_file(store, rows), chosen, rows.file_stem)
    cells = service.file_rows(store, rows)
    return download_response(rows.shape.names, cells, chosen, rows.file_stem)
