"""Attachments on S3: upload, download, removal, deletion by the job and the orphan sweep against a
real S3 API on loopback (moto's server mode, in a thread of the test process, spoken to over HTTP by
django-storages' S3Storage and by boto3); and STORAGE_URL's parsing (taskflow.settings.file_storage_config).

moto is a development requirement: without it this module fails to import, it is never skipped.
"""

import hashlib
import uuid
from datetime import timedelta

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from moto.server import ThreadedMotoServer

from attachments.jobs import orphans_delete
from attachments.models import Attachment
from operations.tests.jobs import jobs_run
from realtime.tests.servers import free_port
from taskflow.settings import file_storage_config
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

REGION = "us-east-1"


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 API on a free loopback port, for this module; stopped after it."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    """A boto3 client of the S3 API, with dummy credentials (moto takes any)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)


@pytest.fixture
def bucket(s3, s3_endpoint, settings, tmp_path):
    """A new bucket, and the test's default storage set to it through a STORAGE_URL."""
    name = f"taskflow-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    url = f"s3://{name}?endpoint_url={s3_endpoint}&region_name={REGION}"
    settings.STORAGES = {**settings.STORAGES, "default": file_storage_config(url, media_root=tmp_path / "unused")}
    return name


def objects(s3, bucket: str) -> dict[str, bytes]:
    """Every object of the bucket, by key, with its bytes."""
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def upload(client, task, content: bytes, name: str = "plan.txt", content_type: str = "text/plain") -> dict:
    response = client.post(
        f"/api/tasks/{task.pk}/attachments/",
        {"file": SimpleUploadedFile(name, content, content_type=content_type)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def task(project):
    return make_task(project=project, title="Files on S3")


def test_an_upload_is_stored_as_an_object_of_the_bucket(client, task, s3, bucket, tmp_path):
    content = b"stored in the bucket\n" * 100
    body = upload(client, task, content)

    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["size"] == len(content)
    name = Attachment.objects.get(pk=body["id"]).file.name
    assert name.startswith(f"attachments/{task.project_id}/{task.pk}/")
    assert objects(s3, bucket) == {name: content}
    # Nothing on the local file system.
    assert not (tmp_path / "unused").exists()


def test_a_download_reads_the_object_back_with_the_attachment_headers(client, task, s3, bucket):
    content = bytes(range(256)) * 16
    body = upload(client, task, content, "données.bin", "application/octet-stream")

    response = client.get(f"/api/attachments/{body['id']}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''donn%C3%A9es.bin"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Length"] == str(len(content))


def test_a_removed_attachments_object_is_deleted_by_the_job(client, task, s3, bucket):
    body = upload(client, task, b"to be removed")
    kept = upload(client, task, b"to be kept")
    kept_name = Attachment.objects.get(pk=kept["id"]).file.name

    assert client.delete(f"/api/attachments/{body['id']}/").status_code == 204
    assert len(objects(s3, bucket)) == 2

    jobs_run()
    assert objects(s3, bucket) == {kept_name: b"to be kept"}


def test_a_deleted_tasks_objects_are_deleted_by_the_job(client, task, s3, bucket):
    for index in range(3):
        upload(client, task, f"file {index}".encode())
    assert len(objects(s3, bucket)) == 3

    assert client.delete(f"/api/tasks/{task.pk}/").status_code == 204
    assert len(objects(s3, bucket)) == 3

    jobs_run()
    assert objects(s3, bucket) == {}


def test_the_orphan_sweep_deletes_objects_no_row_refers_to(client, task, s3, bucket):
    body = upload(client, task, b"referred to")
    name = Attachment.objects.get(pk=body["id"]).file.name
    orphan = f"attachments/{task.project_id}/{task.pk}/{uuid.uuid4().hex}"
    elsewhere = "not-attachments/keep-me"
    s3.put_object(Bucket=bucket, Key=orphan, Body=b"left by a crashed upload")
    s3.put_object(Bucket=bucket, Key=elsewhere, Body=b"not ours")

    assert orphans_delete(older_than=timezone.now() - timedelta(hours=1)) == 0
    assert orphan in objects(s3, bucket)

    assert orphans_delete(older_than=timezone.now() + timedelta(seconds=5)) == 1
    assert objects(s3, bucket) == {name: b"referred to", elsewhere: b"not ours"}


# --- STORAGE_URL ----------------------------------------------------------------------------------


def test_an_s3_storage_url_gives_s3_storage_with_its_options(tmp_path):
    config = file_storage_config(
        "s3://files?endpoint_url=http://127.0.0.1:9000&region_name=eu-west-1&addressing_style=path",
        media_root=tmp_path,
    )
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    assert config["OPTIONS"]["bucket_name"] == "files"
    assert config["OPTIONS"]["endpoint_url"] == "http://127.0.0.1:9000"
    assert config["OPTIONS"]["region_name"] == "eu-west-1"
    assert config["OPTIONS"]["addressing_style"] == "path"


def test_no_storage_url_is_the_local_file_system_in_media_root(tmp_path):
    assert file_storage_config("", media_root=tmp_path) == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)},
    }


@pytest.mark.parametrize(
    "url",
    ["http://bucket", "s3://", "s3:///?region_name=us-east-1", "s3://bucket/a/folder", "bucket", "file:///srv/files"],
    ids=["http", "no-bucket", "empty-bucket", "with-path", "no-scheme", "file"],
)
def test_a_malformed_storage_url_is_refused(tmp_path, url):
    with pytest.raises(ImproperlyConfigured, match="STORAGE_URL must be"):
        file_storage_config(url, media_root=tmp_path)


def test_unknown_storage_url_options_are_refused_by_name(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="unknown options access_key, bucket_name"):
        file_storage_config("s3://files?region_name=us-east-1&access_key=AKIA&bucket_name=other", media_root=tmp_path)
