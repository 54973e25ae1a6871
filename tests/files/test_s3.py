"""The S3 file store against a real S3 API on loopback (moto's server): whole objects only,
multipart uploads with flat memory, byte ranges, deletion (of unfinished uploads too), an
unreachable service as ``FileStoreUnavailable``, and the URL and settings that choose it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tallybook.files.registry import open_file_store
from tallybook.files.s3 import PART_BYTES, S3FileStore
from tallybook.files.store import FileMissing, FileStoreUnavailable
from tallybook.settings import ConfigurationError, Settings
from tests.fixtures.s3_server import CREDENTIALS

KEY = "exports/org/export/1.csv"


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path, s3_files_url: str) -> S3FileStore:
    opened = open_file_store(_settings(tmp_path, files_url=s3_files_url))
    assert isinstance(opened, S3FileStore)
    return opened


def _objects(store: S3FileStore) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_a_file_appears_whole_once_written_under_the_prefix(store: S3FileStore) -> None:
    with store.create(KEY) as file:
        file.write(b"hello ")
        with pytest.raises(FileMissing):  # not there while it is being written
            store.size(KEY)
        file.seek(0)  # a writer may seek (XLSX does)
        file.write(b"HELLO ")
        file.seek(0, os.SEEK_END)
        file.write(b"world")
    assert store.size(KEY) == 11
    assert b"".join(store.read(KEY)) == b"HELLO world"
    assert _objects(store) == [f"tallybook/{KEY}"]


def test_byte_ranges(store: S3FileStore) -> None:
    content = bytes(range(256)) * 1000  # several chunks
    with store.create(KEY) as file:
        file.write(content)
    assert b"".join(store.read(KEY, 10, 5)) == content[10:15]
    assert b"".join(store.read(KEY, 70_000)) == content[70_000:]
    assert b"".join(store.read(KEY, 0, len(content) + 10)) == content
    assert b"".join(store.read(KEY, len(content))) == b""
    assert b"".join(store.read(KEY, 3, 0)) == b""


def test_an_empty_file(store: S3FileStore) -> None:
    with store.create(KEY):
        pass
    assert store.size(KEY) == 0
    assert b"".join(store.read(KEY)) == b""


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(store: S3FileStore) -> None:
    with store.create(KEY) as file:
        file.write(b"old")

    def half_a_file() -> None:
        with store.create(KEY) as file:
            file.write(b"half of the new")
            raise RuntimeError("the rows failed")

    with pytest.raises(RuntimeError):
        half_a_file()
    assert b"".join(store.read(KEY)) == b"old"
    assert _objects(store) == [f"tallybook/{KEY}"]


def test_a_missing_file(store: S3FileStore) -> None:
    with pytest.raises(FileMissing):
        store.size(KEY)
    with pytest.raises(FileMissing):
        store.read(KEY)  # raised by the call, before any chunk
    store.delete(KEY)  # nothing there is no error


UPLOAD = """
import os, sys, tracemalloc
from tallybook.files.s3 import PART_BYTES
from tallybook.files.registry import open_file_store
from tallybook.settings import Settings

store = open_file_store(Settings(files_url=sys.argv[1], _env_file=None))
size, megabyte = int(sys.argv[2]), os.urandom(1024 * 1024)
tracemalloc.start()
with store.create(sys.argv[3]) as file:
    written = 0
    while written < size:
        written += file.write(megabyte[: size - written])
print(tracemalloc.get_traced_memory()[1])
"""


def test_a_large_file_goes_up_in_parts_with_flat_memory(
    tmp_path: Path, store: S3FileStore, s3_files_url: str
) -> None:
    """The writer runs in a process of its own, so that the S3 stand-in's memory (it keeps
    the parts) is not counted."""
    size = 3 * PART_BYTES + 123
    result = subprocess.run(
        [sys.executable, "-c", UPLOAD, s3_files_url, str(size), KEY],
        env={**os.environ, "TALLYBOOK_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    peak = int(result.stdout)
    head = store.client.head_object(Bucket=store.bucket, Key=f"tallybook/{KEY}")
    assert head["ETag"].strip('"').endswith("-4")  # a multipart upload of four parts
    assert store.size(KEY) == size
    # Parts are read from the disk as they are sent: less than one part, for a 24 MiB file.
    assert peak < PART_BYTES, peak
    assert len(b"".join(store.read(KEY, size - 10))) == 10


def test_delete_removes_the_file_and_an_unfinished_upload(store: S3FileStore) -> None:
    with store.create(KEY) as file:
        file.write(b"done")
    name = f"tallybook/{KEY}"
    store.client.create_multipart_upload(Bucket=store.bucket, Key=name)  # a killed writer's
    other = store.client.create_multipart_upload(Bucket=store.bucket, Key=name + "x")
    store.delete(KEY)
    with pytest.raises(FileMissing):
        store.size(KEY)
    left = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    assert [upload["UploadId"] for upload in left] == [other["UploadId"]]


def test_an_unreachable_service_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    endpoint = _nothing_listening()
    settings = _settings(tmp_path, files_url="s3://bucket", s3_endpoint_url=endpoint)
    store = open_file_store(settings)  # nothing is contacted at start
    with pytest.raises(FileStoreUnavailable) as raised, store.create(KEY) as file:
        file.write(b"x")
    assert "testing" not in str(raised.value)
    for call in (lambda: store.size(KEY), lambda: store.read(KEY), lambda: store.delete(KEY)):
        with pytest.raises(FileStoreUnavailable):
            call()
    store.close()


def test_a_bucket_that_does_not_exist_is_unavailable(tmp_path: Path, s3_endpoint: str) -> None:
    settings = _settings(tmp_path, files_url="s3://no-such-bucket", s3_endpoint_url=s3_endpoint)
    store = open_file_store(settings)
    with pytest.raises(FileStoreUnavailable, match="refused the upload"), store.create(KEY) as file:
        file.write(b"x")


def test_the_setting_wins_over_the_urls_endpoint(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str
) -> None:
    url = f"s3://{s3_bucket}?endpoint_url=http://127.0.0.1:1&region=eu-north-1"
    store = open_file_store(_settings(tmp_path, files_url=url, s3_endpoint_url=s3_endpoint))
    assert isinstance(store, S3FileStore)
    assert store.client.meta.region_name == "eu-north-1"
    with store.create(KEY) as file:
        file.write(b"here")
    assert (
        boto3.client("s3", endpoint_url=s3_endpoint)
        .get_object(Bucket=s3_bucket, Key=KEY)["Body"]
        .read()
        == b"here"
    )


@pytest.mark.parametrize(
    "url",
    [
        "s3://",
        "s3:///prefix",
        "s3://key:secret@bucket/prefix",
        "s3://bucket/../up",
        "s3://bucket?acl=public",
    ],
)
def test_unusable_urls_are_one_sentence_that_names_the_setting(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        open_file_store(_settings(tmp_path, files_url=url))
    assert "TALLYBOOK_FILES_URL" in str(raised.value)
    assert "secret" not in str(raised.value)


def test_credentials_come_from_the_aws_environment(tmp_path: Path, s3_files_url: str) -> None:
    store = open_file_store(_settings(tmp_path, files_url=s3_files_url))
    assert isinstance(store, S3FileStore)
    credentials = store.client._request_signer._credentials  # type: ignore[attr-defined]
    assert credentials.access_key == CREDENTIALS["AWS_ACCESS_KEY_ID"]


def _nothing_listening() -> str:
    """An endpoint on loopback where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
