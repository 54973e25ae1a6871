"""The JSON answer of source data, written as the rows come: ``{"fields": [...], "data": [``,
the rows batch by batch, then ``]}``. Memory holds one batch, whatever the answer's size."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from fastapi.responses import StreamingResponse

from tallybook.funnels.service import OpenRows


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
