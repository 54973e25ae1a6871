"""Tables (a header and rows) as CSV or XLSX files: written to a file, or served as a
streamed download. Memory does not grow with the number of rows.

- ``formats``: ``FileFormat`` and each format's media type.
- ``cells``: what a value becomes; escaping text against formula injection.
- ``csv_writer``, ``xlsx_writer``: the pure writers (rows in, chunks or a file out).
- ``files``: ``write_file``, a table to a binary file in a chosen format (no HTTP).
- ``names``: safe download names and ``Content-Disposition``.
- ``response``: ``download_response`` (and ``chunks_response`` for bytes another writer
  makes), the Starlette side.
"""

from tallybook.kit.tabular.cells import FORMULA_PREFIXES, Cell, escape_formula
from tallybook.kit.tabular.csv_writer import CHUNK_SIZE, csv_chunks, csv_line, csv_rows, write_csv
from tallybook.kit.tabular.files import write_file
from tallybook.kit.tabular.formats import MEDIA_TYPES, FileFormat
from tallybook.kit.tabular.names import content_disposition, safe_stem
from tallybook.kit.tabular.response import chunks_response, download_response
from tallybook.kit.tabular.xlsx_writer import MAX_SHEET_ROWS, write_xlsx

__all__ = [
    "CHUNK_SIZE",
    "FORMULA_PREFIXES",
    "MAX_SHEET_ROWS",
    "MEDIA_TYPES",
    "Cell",
    "FileFormat",
    "chunks_response",
    "content_disposition",
    "csv_chunks",
    "csv_line",
    "csv_rows",
    "download_response",
    "escape_formula",
    "safe_stem",
    "write_csv",
    "write_file",
    "write_xlsx",
]
