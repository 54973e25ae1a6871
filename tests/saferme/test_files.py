"""File attachments: renditions made with Pillow at upload, checked with Pillow here;
served to users of the team only; non-images 400, too large 413."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tallybook.app import create_app
from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant
from tests.saferme.factories import V4, image_bytes, upload, v4_headers


def _fetch(client: TestClient, url: str, headers: dict[str, str]) -> Any:
    return client.get(url.removeprefix("http://testserver"), headers=headers)


def _size(client: TestClient, url: str, tenant: Tenant) -> tuple[int, int]:
    response = _fetch(client, url, v4_headers(tenant))
    assert response.status_code == 200, response.text
    with Image.open(io.BytesIO(response.content)) as image:
        return image.size


@pytest.mark.parametrize(
    ("size", "thumb", "medium"),
    [
        ((1200, 800), (100, 67), (600, 400)),
        ((300, 900), (33, 100), (200, 600)),
        ((50, 40), (50, 40), (50, 40)),  # never enlarged
        ((2000, 2000), (100, 100), (600, 600)),
    ],
)
def test_renditions_fit_their_boxes_with_the_aspect_kept(
    client: TestClient,
    tenant: Tenant,
    size: tuple[int, int],
    thumb: tuple[int, int],
    medium: tuple[int, int],
) -> None:
    raw = image_bytes(size)
    response = upload(client, tenant, raw)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content_type"] == "image/jpeg" and body["filename"] == "photo.jpg"
    assert (body["width"], body["height"]) == size and body["byte_size"] == len(raw)
    assert body["style_url"] == body["styles"]
    assert body["styles"]["thumb"].startswith("http://testserver/api/v4/file_attachments/")
    assert _size(client, body["styles"]["thumb"], tenant) == thumb
    assert _size(client, body["styles"]["medium"], tenant) == medium
    original = _fetch(client, body["original_url"], v4_headers(tenant))
    assert original.content == raw and original.headers["content-type"] == "image/jpeg"
    shown = client.get(f"{V4}/file_attachments/{body['id']}", headers=v4_headers(tenant))
    assert shown.json() == body


def test_the_exif_orientation_is_applied(client: TestClient, tenant: Tenant) -> None:
    # Stored 1200×800 with "rotate 90°" (6): a portrait photo, 800 wide and 1200 high.
    body = upload(client, tenant, image_bytes((1200, 800), orientation=6)).json()
    assert (body["width"], body["height"]) == (800, 1200)
    assert _size(client, body["styles"]["thumb"], tenant) == (67, 100)
    assert _size(client, body["styles"]["medium"], tenant) == (400, 600)


@pytest.mark.parametrize(
    ("image_format", "mode", "content_type"),
    [("PNG", "RGBA", "image/png"), ("GIF", "P", "image/gif")],
)
def test_png_and_gif_renditions_are_png(
    client: TestClient, tenant: Tenant, image_format: str, mode: str, content_type: str
) -> None:
    raw = image_bytes((400, 200), image_format, mode=mode)
    body = upload(client, tenant, raw, "picture.bin", "application/octet-stream").json()
    assert body["content_type"] == content_type  # from the bytes, not what the client said
    thumb = _fetch(client, body["styles"]["thumb"], v4_headers(tenant))
    assert thumb.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.format == "PNG" and image.size == (100, 50)


@pytest.mark.parametrize(
    "raw",
    [
        b"just some text",
        b"",
        image_bytes((20, 20))[:60],  # a truncated JPEG
        image_bytes((20, 20), "BMP"),  # an image, but not one an Image field takes
        image_bytes((8_000, 8_000), "PNG", mode="1"),  # 64 megapixels in a small file
    ],
)
def test_what_is_not_a_usable_image_is_400(client: TestClient, tenant: Tenant, raw: bytes) -> None:
    response = upload(client, tenant, raw)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == body["detail"] and body["detail"]


def test_a_body_without_a_file_part_is_400_and_json_is_415(
    client: TestClient, tenant: Tenant
) -> None:
    headers = v4_headers(tenant)
    no_file = client.post(
        f"{V4}/file_attachments", headers=headers, files={"image": ("a.jpg", b"x", "image/jpeg")}
    )
    assert no_file.status_code == 400
    as_json = client.post(f"{V4}/file_attachments", headers=headers, json={"file": "x"})
    assert as_json.status_code == 415
    as_form = client.post(f"{V4}/file_attachments", headers=headers, data={"file": "x"})
    assert as_form.status_code == 415


@pytest.fixture
def small_limit_client(database: Database, event_store: Any) -> Iterator[TestClient]:
    settings = database.settings.model_copy(update={"attachment_max_bytes": 20_000})
    with TestClient(create_app(settings, database, event_store)) as client:
        yield client


def test_files_over_the_limit_are_413(small_limit_client: TestClient, tenant: Tenant) -> None:
    noise = Image.effect_noise((300, 300), 80).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "PNG")
    big = out.getvalue()
    assert len(big) > 20_000
    over_file = upload(small_limit_client, tenant, big[:30_000])  # the body is within the allowance
    assert over_file.status_code == 413
    over_body = upload(small_limit_client, tenant, big + b"\0" * 100_000)  # refused as it arrives
    assert over_body.status_code == 413
    for response in (over_file, over_body):
        assert response.json()["code"] == "payload_too_large"
        assert response.json()["error"] == response.json()["detail"]
    assert upload(small_limit_client, tenant, image_bytes((30, 30))).status_code == 201


def test_files_are_served_to_users_of_the_team_only(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    body = upload(client, tenant, image_bytes((64, 64))).json()
    other = new_tenant()
    for url in (body["original_url"], body["styles"]["thumb"], body["styles"]["medium"]):
        assert _fetch(client, url, {}).status_code == 401
        assert _fetch(client, url, v4_headers(other)).status_code == 404
        with_token = client.get(
            url.removeprefix("http://testserver"), params={"token": tenant.token}
        )
        assert with_token.status_code == 200  # what an <img src> can carry
    url = f"{V4}/file_attachments/{body['id']}"
    assert client.get(url, headers=v4_headers(other)).status_code == 404
    assert client.get(f"{url}/huge", headers=v4_headers(tenant)).status_code == 404


def test_images_live_in_the_file_store_every_process_shares(
    client: TestClient, tenant: Tenant, database: Database, tmp_path: Any
) -> None:
    """Two API processes with data directories of their own and one TALLYBOOK_FILES_URL:
    what one stores, the other serves (DESIGN §1: the file store holds images too)."""
    shared = tmp_path / "shared"
    apps = [
        create_app(
            database.settings.model_copy(
                update={"data_dir": tmp_path / name, "files_url": shared.as_uri()}
            ),
            database,
        )
        for name in ("one", "two")
    ]
    raw = image_bytes((40, 30))
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        body = upload(first, tenant, raw).json()
        original = _fetch(second, body["original_url"], v4_headers(tenant))
        assert original.status_code == 200 and original.content == raw
        assert original.headers["content-length"] == str(len(raw))
        assert _size(second, body["styles"]["thumb"], tenant) == (40, 30)
    stored = {p.name for p in shared.rglob("*") if p.is_file()}
    assert stored == {"original.jpg", "thumb.jpg", "medium.jpg"}
    assert not (tmp_path / "one" / "files").exists() or not any(
        (tmp_path / "one" / "files").rglob("*.jpg")
    )
