"""The local file store: atomic files, byte ranges, deletion of partial files, keys that
cannot leave the store's folder, and the settings that choose it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tallybook.files.local import LocalFileStore
from tallybook.files.registry import open_file_store
from tallybook.files.store import FileMissing, check_key
from tallybook.settings import ConfigurationError, Settings

KEY = "exports/org/export/1.csv"


@pytest.fixture
def store(tmp_path: Path) -> LocalFileStore:
    return LocalFileStore(tmp_path / "files")


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None, **values)  # type: ignore[arg-type]


def test_a_file_appears_whole_once_written(store: LocalFileStore) -> None:
    with store.create(KEY) as file:
        file.write(b"hello ")
        with pytest.raises(FileMissing):  # not there while it is being written
            store.size(KEY)
        file.write(b"world")
    assert store.size(KEY) == 11
    assert b"".join(store.read(KEY)) == b"hello world"


def test_byte_ranges(store: LocalFileStore) -> None:
    content = bytes(range(256)) * 1000  # several chunks
    with store.create(KEY) as file:
        file.write(content)
    assert b"".join(store.read(KEY, 10, 5)) == content[10:15]
    assert b"".join(store.read(KEY, 70_000)) == content[70_000:]
    assert b"".join(store.read(KEY, 0, len(content) + 10)) == content
    assert b"".join(store.read(KEY, len(content))) == b""


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(store: LocalFileStore) -> None:
    with store.create(KEY) as file:
        file.write(b"old")

    def half_a_file() -> None:
        with store.create(KEY) as file:
            file.write(b"half of the new")
            raise RuntimeError("the rows failed")

    with pytest.raises(RuntimeError):
        half_a_file()
    assert b"".join(store.read(KEY)) == b"old"
    assert sorted(p.name for p in store.path(KEY).parent.iterdir()) == ["1.csv"]


def test_delete_removes_a_partial_file_a_crash_left_and_empty_folders(
    store: LocalFileStore,
) -> None:
    final = store.path(KEY)
    final.parent.mkdir(parents=True)
    final.with_name("1.csv.partial").write_bytes(b"cut short")
    store.delete(KEY)
    assert not (store.root / "exports").exists()
    store.delete(KEY)  # nothing there: no error
    with pytest.raises(FileMissing):
        store.read(KEY)


def test_reading_a_missing_file_fails_at_once(store: LocalFileStore) -> None:
    with pytest.raises(FileMissing):
        store.read("exports/none.csv")
    with pytest.raises(FileMissing):
        store.size("exports/none.csv")


@pytest.mark.parametrize(
    "key", ["../escape.csv", "/etc/passwd", "a//b", ".hidden", "a/../b", "a\\b", "", "a/ b"]
)
def test_keys_cannot_leave_the_store(key: str) -> None:
    with pytest.raises(ValueError):
        check_key(key)


def test_the_default_store_is_the_files_folder_of_the_data_dir(tmp_path: Path) -> None:
    store = open_file_store(_settings(tmp_path))
    assert isinstance(store, LocalFileStore)
    assert store.root == (tmp_path / "data" / "files").resolve()
    assert store.root.is_dir()


def test_a_file_url_names_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    store = open_file_store(_settings(tmp_path, files_url=folder.as_uri()))
    assert isinstance(store, LocalFileStore) and store.root == folder.resolve()


@pytest.mark.parametrize("url", ["file://files", "file://host/srv/files", "ftp://x/y", "files"])
def test_an_unusable_url_is_a_configuration_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigurationError, match="TALLYBOOK_FILES_URL"):
        open_file_store(_settings(tmp_path, files_url=url))


def test_a_folder_that_cannot_be_made_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    with pytest.raises(ConfigurationError, match="TALLYBOOK_FILES_URL"):
        open_file_store(_settings(tmp_path, files_url=(blocker / "files").as_uri()))
