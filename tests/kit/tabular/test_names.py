"""Download names: safe stems and RFC 6266 Content-Disposition for awkward names."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tallybook.kit.tabular import FileFormat, content_disposition, safe_stem
from tallybook.kit.tabular.names import MAX_STEM_BYTES, attachment

_HEADER = re.compile(
    r"""attachment; filename="([^"\\]*)"(?:; filename\*=UTF-8''([A-Za-z0-9%._~-]+))?"""
)


def parse(header: str) -> tuple[str, str | None]:
    """The ASCII name and the decoded ``filename*`` name (None when absent)."""
    match = _HEADER.fullmatch(header)
    assert match, header
    fallback, encoded = match.groups()
    return fallback, None if encoded is None else unquote(encoded, errors="strict")


def test_a_plain_stem_needs_no_extended_name() -> None:
    header = content_disposition("workflow-5f0c-step-3", FileFormat.CSV)
    assert header == 'attachment; filename="workflow-5f0c-step-3.csv"'


def test_a_unicode_stem_has_an_ascii_fallback_and_a_utf8_name() -> None:
    header = content_disposition("Työpaja raportti 数据", FileFormat.XLSX)
    assert parse(header) == ("Tyopaja raportti.xlsx", "Työpaja raportti 数据.xlsx")


def test_a_file_of_another_kind_gets_the_same_names() -> None:
    """Report exports' text transcripts are not tables, but are named the same way."""
    assert (
        attachment("Tuki logs 2024-03-01", "txt")
        == 'attachment; filename="Tuki logs 2024-03-01.txt"'
    )
    header = attachment("Työpaja / logs", "txt")
    assert parse(header) == ("Tyopaja _ logs.txt", "Työpaja _ logs.txt")
    assert attachment("x", "csv") == content_disposition("x", FileFormat.CSV)


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("../../etc/passwd", "etc_passwd"),
        ("C:\\Windows\\system32", "C_Windows_system32"),
        ('say "cheese"; filename=evil.exe', "say _cheese_ filename_evil.exe"),
        ("a\r\nSet-Cookie: x=1", "a_Set-Cookie_ x_1"),
        ("report\u202egpj.exe", "report_gpj.exe"),  # right-to-left override
        ("tab\there\x00nul", "tab_here_nul"),
        ("100% done & <b>ok</b>", "100_ done _ _b_ok_b"),
        ("   .hidden  ", "hidden"),
        ("trailing dots...", "trailing dots"),
        ("many    spaces", "many spaces"),
        ("CON", "_CON"),
        ("lpt1.backup", "_lpt1.backup"),
        ("e\u0301te\u0301", "été"),  # NFC
    ],
)
def test_awkward_stems_are_made_safe(stem: str, expected: str) -> None:
    assert safe_stem(stem) == expected


@pytest.mark.parametrize("stem", ["", "   ", "...", "///", "😀😀", "\x00\x01", "_"])
def test_nothing_usable_gives_download(stem: str) -> None:
    assert safe_stem(stem) == "download"
    assert content_disposition(stem, FileFormat.CSV) == 'attachment; filename="download.csv"'


def test_only_non_ascii_letters_give_an_ascii_fallback_of_download() -> None:
    assert parse(content_disposition("数据", FileFormat.CSV)) == ("download.csv", "数据.csv")


def test_long_stems_are_cut_on_a_character_boundary() -> None:
    stem = safe_stem("ä" * 500)
    assert stem == "ä" * (MAX_STEM_BYTES // 2)
    assert len(safe_stem("x" * 500)) == MAX_STEM_BYTES


@given(st.text(max_size=300))
def test_any_stem_gives_a_header_that_parses_and_a_plain_file_name(stem: str) -> None:
    header = content_disposition(stem, FileFormat.CSV)
    header.encode("ascii")  # the whole header is ASCII
    fallback, full = parse(header)
    for name in (fallback, full or fallback):
        assert name.endswith(".csv")
        assert not name.startswith((".", " "))
        assert not set(name) & set('/\\:*?"<>|\r\n\t\x00;')
        assert len(name.encode()) <= MAX_STEM_BYTES + len(".csv")
