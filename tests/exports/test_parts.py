"""The pure parts of report exports: download tokens, the Range header, the TXT
transcript, the days of a stats export, retries, and the API's names for the enums."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo

import pytest

from tallybook.exports import schemas
from tallybook.exports.endpoints import byte_range
from tallybook.exports.flow import Decision, Job, backoff, plan
from tallybook.exports.links import (
    InvalidLink,
    LinkClaims,
    make_token,
    read_token,
    signer_for,
)
from tallybook.exports.stats import days
from tallybook.exports.transcript import write_transcript
from tallybook.exports.types import FORMATS, ExportFormat, ExportType
from tallybook.kit.errors import RangeNotSatisfiable
from tallybook.kit.signing import Signer

CLAIMS = LinkClaims(uuid.uuid4(), uuid.uuid4(), datetime(2024, 3, 8, 10, 0, 0, 242000, UTC))


def test_a_token_carries_its_claims_to_the_millisecond() -> None:
    signer = signer_for("secret")
    assert read_token(signer, make_token(signer, CLAIMS)) == CLAIMS


@pytest.mark.parametrize(
    "other",
    [
        signer_for("another secret"),
        Signer.for_purpose("secret", b"tallybook/cursor/v1"),  # a cursor's key
    ],
)
def test_a_token_of_another_key_is_refused(other: Signer) -> None:
    with pytest.raises(InvalidLink):
        read_token(signer_for("secret"), make_token(other, CLAIMS))


@pytest.mark.parametrize("token", ["", ".", "abc", "a.b.c", "!!!.???", "eyJ9.AAAA"])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(InvalidLink):
        read_token(signer_for("secret"), token)


def test_a_signed_payload_that_is_not_a_link_is_refused() -> None:
    signer = signer_for("secret")
    for raw in (b"[]", b'{"o": "x"}', b"not json", b'{"o":"00","e":"00","x":"soon"}'):
        with pytest.raises(InvalidLink):
            read_token(signer, signer.sign(raw))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=90-", (90, 99)),
        ("bytes=90-1000", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-1000", (0, 99)),
        (" bytes = 5 - 6 ", (5, 6)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("bytes=9-5", None),  # not a valid range: ignored
        ("items=0-5", None),
        ("bytes=-", None),
        ("bytes=x-y", None),
        ("bytes=0-" + "9" * 5000, (0, 99)),  # beyond int()'s 4,300 digits
        ("bytes=-" + "9" * 5000, (0, 99)),
        ("bytes=" + "0" * 5000 + "5-6", (5, 6)),
    ],
)
def test_byte_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=0-", 0), ("bytes=" + "9" * 5000 + "-", 100)],
)
def test_unsatisfiable_ranges_say_the_size(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as refused:
        byte_range(header, size)
    assert refused.value.headers == {"Content-Range": f"bytes */{size}"}


def _at(minute: int) -> datetime:
    return datetime(2024, 3, 1, 12, minute, tzinfo=UTC)


def test_a_transcript() -> None:
    rows = [
        ("c1", _at(0), _at(30), _at(1), "visitor", "Vera  Virtanen", "msg", "Hi\r\nthere"),
        ("c1", _at(0), _at(30), _at(2), "user", None, "autosuggest", "Help?"),
        ("c1", _at(0), _at(30), _at(3), "user", "Anna", "leave", None),
        ("c2", _at(40), None, None, None, None, None, None),
        ("c3", _at(50), None, _at(51), "visitor", "Åsa", "msg", "Hej 👋"),
    ]
    file = io.BytesIO()
    assert write_transcript(iter(rows), file) == 5
    assert file.getvalue().decode() == (
        "Chat c1  started 2024-03-01T12:00:00.000Z  ended 2024-03-01T12:30:00.000Z\n"
        "[2024-03-01T12:01:00.000Z] Vera Virtanen: Hi\n"
        "    there\n"
        "[2024-03-01T12:02:00.000Z] user (autosuggest): Help?\n"
        "[2024-03-01T12:03:00.000Z] Anna (leave)\n"
        "\n"
        "Chat c2  started 2024-03-01T12:40:00.000Z  not ended\n"
        "\n"
        "Chat c3  started 2024-03-01T12:50:00.000Z  not ended\n"
        "[2024-03-01T12:51:00.000Z] Åsa: Hej 👋\n"
    )


def test_an_empty_transcript_is_an_empty_file() -> None:
    file = io.BytesIO()
    assert write_transcript(iter([]), file) == 0
    assert file.getvalue() == b""


def test_the_days_of_a_range_in_a_zone_with_summer_time() -> None:
    zone = ZoneInfo("Europe/Helsinki")
    start = datetime(2024, 3, 30, 12, tzinfo=UTC)  # 14:00 local
    end = datetime(2024, 4, 1, 6, tzinfo=UTC)  # 09:00 local, summer time
    found = [(d.date.isoformat(), d.start, d.end) for d in days(start, end, zone)]
    assert found == [
        ("2024-03-30", start, datetime(2024, 3, 30, 22, tzinfo=UTC)),
        (
            "2024-03-31",
            datetime(2024, 3, 30, 22, tzinfo=UTC),
            datetime(2024, 3, 31, 21, tzinfo=UTC),
        ),
        ("2024-04-01", datetime(2024, 3, 31, 21, tzinfo=UTC), end),
    ]
    day = datetime(2024, 3, 31, 21, tzinfo=UTC)
    (only,) = days(day, day + timedelta(microseconds=1), zone)
    assert only.date.isoformat() == "2024-04-01"


def test_retries_back_off_and_end() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 8, 30)] == [30, 60, 120, 3600, 3600]
    job = Job(
        uuid.uuid4(),
        uuid.uuid4(),
        uuid.uuid4(),
        ExportType.LOGS,
        ExportFormat.CSV,
        _at(0),
        _at(1),
        None,
        0,
        attempt=3,
        timezone="UTC",
    )
    assert plan(job, 3) is Decision.WRITE
    assert plan(job, 2) is Decision.GIVE_UP
    assert job.key() == f"exports/{job.organization_id.hex}/{job.id.hex}/3.csv"
    assert job.key(1).endswith("/1.csv")


def test_the_api_spells_the_enums_values() -> None:
    assert set(get_args(schemas.ExportTypeName)) == set(ExportType)
    assert set(get_args(schemas.ExportFormatName)) == set(ExportFormat)
    assert FORMATS[ExportType.STATS] < FORMATS[ExportType.LOGS] == set(ExportFormat)
