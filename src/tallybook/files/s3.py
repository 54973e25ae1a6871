"""Files in an S3-compatible bucket: ``TALLYBOOK_FILES_URL=s3://<bucket>/<prefix>``.

The endpoint is AWS's unless ``TALLYBOOK_S3_ENDPOINT_URL`` (or the URL's
``?endpoint_url=``) names another service (MinIO, Ceph, R2 …); the region comes from
``?region=`` or the usual AWS configuration, and so do the credentials (the environment's
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an instance role): they are
never in the URL, and never logged.

A file is written to a temporary file of this machine (a writer may seek: XLSX does) and
uploaded when complete, in parts of ``PART_BYTES`` above that size, so memory stays flat
however large the export. An object appears only once its upload completes, so a reader
never sees half a file; a process killed mid-upload can leave an unfinished multipart
upload, which ``delete`` aborts (a bucket lifecycle rule that aborts old incomplete
uploads is the belt to those braces). Reads are ranged GETs streamed in chunks.

Any failure to reach the bucket is ``FileStoreUnavailable``: the worker retries the
export, the download link answers 503.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tallybook.files.store import CHUNK_BYTES, FileMissing, FileStoreUnavailable, check_key
from tallybook.settings import ConfigurationError, Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

PART_BYTES: Final = 8 * 1024 * 1024
"""Multipart threshold and part size (S3's smallest part is 5 MiB)."""
UPLOAD_THREADS: Final = 2
"""Parts in flight at once: memory is about ``PART_BYTES`` times this."""
_MISSING: Final = frozenset({"404", "NoSuchKey", "NotFound"})
_URL_SENTENCE: Final = (
    "TALLYBOOK_FILES_URL: an S3 file store is 's3://<bucket>' or 's3://<bucket>/<prefix>' "
    "(optionally '?endpoint_url=http://host:port&region=<region>'); credentials come from "
    "the AWS environment or configuration, never the URL."
)


class S3FileStore:
    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.transfer = TransferConfig(
            multipart_threshold=PART_BYTES,
            multipart_chunksize=PART_BYTES,
            max_concurrency=UPLOAD_THREADS,
        )

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def create(self, key: str) -> Iterator[IO[bytes]]:
        name = self.object_key(key)
        with tempfile.NamedTemporaryFile(prefix="tallybook-upload-") as file:
            yield file
            file.flush()
            with _unavailable():
                # By name, so that each part is read from the disk as it is sent (a file
                # object's parts are read into memory); multipart above the threshold, and
                # an upload that fails is aborted.
                self.client.upload_file(file.name, self.bucket, name, Config=self.transfer)

    def read(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        if length == 0:
            self.size(key)  # FileMissing all the same
            return iter(())
        last = "" if length is None else str(start + length - 1)
        try:
            with _unavailable():
                answer = self.client.get_object(
                    Bucket=self.bucket, Key=self.object_key(key), Range=f"bytes={start}-{last}"
                )
        except _PastTheEnd:
            return iter(())
        return _chunks(answer)

    def size(self, key: str) -> int:
        with _unavailable():
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        return head["ContentLength"]

    def delete(self, key: str) -> None:
        name = self.object_key(key)
        with _unavailable(missing_ok=True):
            self.client.delete_object(Bucket=self.bucket, Key=name)
            found = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=name)
            for upload in found.get("Uploads", []):
                if upload.get("Key") == name and "UploadId" in upload:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=name, UploadId=upload["UploadId"]
                    )

    def close(self) -> None:
        self.client.close()


class _PastTheEnd(Exception):
    """A range that starts at or past the end of the object (S3's 416)."""


@contextmanager
def _unavailable(*, missing_ok: bool = False) -> Iterator[None]:
    """S3's answers as the store's errors: no such object is ``FileMissing``, anything else
    ``FileStoreUnavailable`` with the error's code only (its text can name the bucket's
    endpoint; never a credential, which botocore does not put in messages)."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _MISSING:
            if missing_ok:
                return
            raise FileMissing(code) from None
        if code == "InvalidRange":
            raise _PastTheEnd from None
        raise FileStoreUnavailable(f"The S3 file store answered {code or 'an error'}.") from None
    except S3UploadFailedError:  # what upload_file makes of an error answer
        raise FileStoreUnavailable("The S3 file store refused the upload.") from None
    except BotoCoreError as exc:
        raise FileStoreUnavailable(
            f"The S3 file store cannot be reached ({type(exc).__name__})."
        ) from None


def _chunks(answer: GetObjectOutputTypeDef) -> Iterator[bytes]:
    body = answer["Body"]
    try:
        with _unavailable():
            yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()


def open_store(url: str | None, settings: Settings) -> S3FileStore | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() != "s3":
        return None
    bucket, prefix = parts.netloc, unquote(parts.path).strip("/")
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    if not bucket or parts.username or parts.password or set(query) - {"endpoint_url", "region"}:
        raise ConfigurationError(_URL_SENTENCE)
    if prefix:
        try:
            check_key(prefix)
        except ValueError:
            raise ConfigurationError(_URL_SENTENCE) from None
    endpoint = settings.s3_endpoint_url or query.get("endpoint_url")
    options: dict[str, Any] = {}
    if endpoint:
        options["endpoint_url"] = endpoint
    if "region" in query:
        options["region_name"] = query["region"]
    config = Config(
        connect_timeout=10,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
        # Other services than AWS commonly serve buckets by path, not by host name.
        s3={"addressing_style": "path" if endpoint else "auto"},
    )
    try:
        client = boto3.session.Session().client("s3", config=config, **options)
    except (BotoCoreError, ValueError):
        raise ConfigurationError(
            "TALLYBOOK_S3_ENDPOINT_URL (or the files URL's endpoint_url and region) cannot be "
            "used to reach an S3 service."
        ) from None
    return S3FileStore(client, bucket, prefix)
