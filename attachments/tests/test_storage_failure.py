"""A file storage that fails answers 503 with Retry-After, and an upload then records nothing.

Real failures, no mocks: a MEDIA_ROOT that cannot be written (a file where the folder should be),
and S3 at an address where nothing listens (boto3 gets a refused connection).
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from attachments.models import Attachment
from realtime.models import Event
from realtime.tests.servers import free_port
from taskflow.settings import file_storage_config

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(client, project):
    return client.post("/api/tasks/", {"project": project.pk, "title": "Files"}).json()


def upload(client, task, name="plan.txt", content=b"the plan"):
    return client.post(
        f"/api/tasks/{task['id']}/attachments/",
        {"file": SimpleUploadedFile(name, content, content_type="text/plain")},
        format="multipart",
    )


def storage_at(settings, config: dict) -> None:
    settings.STORAGES = {**settings.STORAGES, "default": config}


@pytest.fixture
def unreachable_s3(settings, monkeypatch, tmp_path):
    """S3 on a loopback port nobody listens on; one attempt per call, so the test is quick."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    url = f"s3://files?endpoint_url=http://127.0.0.1:{free_port()}&region_name=us-east-1"
    storage_at(settings, file_storage_config(url, media_root=tmp_path))


def test_an_upload_to_an_unwritable_folder_is_a_503_and_records_nothing(client, task, settings, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the media folder should be")
    storage_at(settings, file_storage_config("", media_root=blocked))
    events = Event.objects.count()

    response = upload(client, task)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"detail": "The file storage is unavailable; try again later."}
    assert not Attachment.objects.exists()
    assert Event.objects.count() == events


def test_an_upload_to_an_unreachable_s3_is_a_503_and_records_nothing(client, task, unreachable_s3):
    events = Event.objects.count()

    response = upload(client, task)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert not Attachment.objects.exists()
    assert Event.objects.count() == events


def test_a_download_from_a_storage_that_lost_the_file_is_a_503(client, task, settings, tmp_path):
    attachment = upload(client, task).json()
    stored = Attachment.objects.get(pk=attachment["id"])
    stored.file.storage.delete(stored.file.name)  # the storage lost it (an operator, a bad restore)

    response = client.get(f"/api/attachments/{attachment['id']}/download/")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    # The metadata is still there: the row was not touched.
    assert client.get(f"/api/attachments/{attachment['id']}/").json() == attachment
