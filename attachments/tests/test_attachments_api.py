"""The attachment API on the local file storage (the test's own MEDIA_ROOT): uploads, lists,
metadata, downloads and removals; bad input refused with a 4xx and nothing stored; who may remove;
stored files deleted by the job once their attachment, task or project is deleted; the orphan
sweep; events, activity, the payload's shape and the list's statement count."""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from accounts.tests.factories import UserFactory
from attachments import services
from attachments.jobs import orphans_delete
from attachments.models import ATTACHMENTS_PER_TASK_MAX, Attachment
from attachments.payloads import AttachmentPayload, attachment_payload
from attachments.serializers import AttachmentSerializer
from operations.tests.jobs import jobs_run
from realtime.models import Activity
from taskflow.errors import NotFound
from tasks import services as task_services
from tasks.models import Project, Task
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

FIELDS = ["id", "task", "project", "filename", "size", "content_type", "sha256", "uploaded_by", "created_at"]
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@pytest.fixture
def task(project):
    return make_task(project=project, title="Has files")


def media() -> Path:
    return Path(settings.MEDIA_ROOT)


def stored_files() -> list[Path]:
    """Every file in the storage (the test's MEDIA_ROOT)."""
    return sorted(path for path in media().rglob("*") if path.is_file()) if media().exists() else []


def stored_path(attachment_id: int) -> Path:
    return media() / Attachment.objects.get(pk=attachment_id).file.name


def upload(client, task_id: int, content: bytes = b"hello", name: str = "notes.txt", content_type: str = "text/plain"):
    return client.post(
        f"/api/tasks/{task_id}/attachments/",
        {"file": SimpleUploadedFile(name, content, content_type=content_type)},
        format="multipart",
    )


def upload_raw(client, task_id: int, content: bytes, filename: str, content_type: str = "text/plain"):
    """An upload whose multipart body is written here, with the file name exactly as given (Django's
    test client would send only its last path component)."""
    boundary = "----taskflow-test-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.generic(
        "POST", f"/api/tasks/{task_id}/attachments/", body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def uploaded(client, task_id: int, content: bytes = b"hello", name: str = "notes.txt", **kwargs) -> dict:
    response = upload(client, task_id, content, name, **kwargs)
    assert response.status_code == 201, response.content
    return response.json()


def attach(task: Task, content: bytes = b"x", name: str = "f.bin") -> Attachment:
    """An attachment made through the service, as its task's project owner."""
    return services.attachment_add(
        task=task, actor=task.project.owner, upload=ContentFile(content, name), operator=True
    )


def downloaded(client, attachment_id: int):
    response = client.get(f"/api/attachments/{attachment_id}/download/")
    assert response.status_code == 200, response.content if not response.streaming else b""
    return response, b"".join(response.streaming_content)


def assert_nothing_stored(before: list[Path], count: int = 0) -> None:
    assert Attachment.objects.count() == count
    assert stored_files() == before


def events_since(client, project, seq: int) -> list[dict]:
    response = client.get(f"/api/projects/{project.pk}/events/?since={seq}")
    assert response.status_code == 200
    return response.json()["events"]


def current_seq(project) -> int:
    return Project.objects.values_list("event_seq", flat=True).get(pk=project.pk)


# --- Upload, list, metadata, download, removal ------------------------------------------------------


def test_an_upload_answers_201_with_exactly_the_attachment_fields(client, user, project, task):
    content = b"The quarterly report\n" * 10
    response = upload(client, task.pk, content, "report.txt", "text/plain")

    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == FIELDS
    assert body["task"] == task.pk
    assert body["project"] == project.pk
    assert body["filename"] == "report.txt"
    assert body["size"] == len(content)
    assert body["content_type"] == "text/plain"
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["uploaded_by"] == user.pk
    assert Attachment.objects.filter(pk=body["id"], task=task).exists()


def test_an_uploaded_file_is_stored_with_its_bytes_under_a_name_of_the_storage(client, task):
    content = bytes(range(256)) * 40
    body = uploaded(client, task.pk, content, "secret-plans.bin")

    path = stored_path(body["id"])
    assert path.read_bytes() == content
    assert path.is_relative_to(media() / "attachments")
    assert "secret-plans" not in str(path)
    assert stored_files() == [path]


def test_the_list_is_in_upload_order_and_paginated(client, task):
    ids = [uploaded(client, task.pk, f"file {index}".encode(), f"{index}.txt")["id"] for index in range(3)]

    first = client.get(f"/api/tasks/{task.pk}/attachments/?page_size=2")
    assert first.status_code == 200
    page = first.json()
    assert [item["id"] for item in page["results"]] == ids[:2]
    assert page["previous"] is None
    second = client.get(page["next"])
    assert [item["id"] for item in second.json()["results"]] == ids[2:]
    assert second.json()["next"] is None
    whole = client.get(f"/api/tasks/{task.pk}/attachments/").json()["results"]
    assert whole == [client.get(f"/api/attachments/{pk}/").json() for pk in ids]


def test_the_metadata_is_what_the_upload_answered(client, task):
    body = uploaded(client, task.pk, b"data", "data.csv", content_type="text/csv")
    response = client.get(f"/api/attachments/{body['id']}/")
    assert response.status_code == 200
    assert response.json() == body


def test_a_download_is_the_exact_bytes_as_an_attachment_with_the_stored_type(client, task):
    content = b"%PDF-1.4 not really\x00\xff"
    body = uploaded(client, task.pk, content, "scan.pdf", content_type="application/pdf")

    response, data = downloaded(client, body["id"])
    assert data == content
    assert response["Content-Disposition"] == 'attachment; filename="scan.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Length"] == str(len(content))


def test_a_download_of_a_non_ascii_name_carries_it_encoded(client, task):
    body = uploaded(client, task.pk, b"bonjour", "résumé été.txt")
    assert body["filename"] == "résumé été.txt"

    response, data = downloaded(client, body["id"])
    assert data == b"bonjour"
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20%C3%A9t%C3%A9.txt"


@pytest.mark.parametrize(
    ("declared", "name", "stored"),
    [
        ("text/csv", "table.csv", "text/csv"),
        ("not a media type", "photo.png", "image/png"),
        ("application/octet-stream", "scan.pdf", "application/pdf"),
        ("", "no-extension", "application/octet-stream"),
    ],
    ids=["declared", "malformed-guessed", "generic-guessed", "unknown"],
)
def test_the_stored_content_type_is_the_declared_one_or_guessed_from_the_name(client, task, declared, name, stored):
    body = uploaded(client, task.pk, b"typed", name, content_type=declared)
    assert body["content_type"] == stored
    response, _ = downloaded(client, body["id"])
    assert response["Content-Type"] == stored
    # Whatever the type, a download opened in the browser runs nothing in TaskFlow's origin.
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_removal_answers_204_and_the_file_goes_once_the_job_runs(client, task):
    body = uploaded(client, task.pk)
    path = stored_path(body["id"])

    response = client.delete(f"/api/attachments/{body['id']}/")
    assert response.status_code == 204
    assert not Attachment.objects.filter(pk=body["id"]).exists()
    assert client.get(f"/api/attachments/{body['id']}/").status_code == 404
    assert path.exists()

    jobs_run()
    assert not path.exists()
    assert stored_files() == []


# --- Bad input: a clear 4xx, nothing stored --------------------------------------------------------


def test_an_upload_without_the_file_field_is_400(client, task):
    response = client.post(
        f"/api/tasks/{task.pk}/attachments/",
        {"other": SimpleUploadedFile("a.txt", b"abc")},
        format="multipart",
    )
    assert response.status_code == 400
    assert "file" in response.json()
    assert_nothing_stored([])


def test_an_upload_as_json_is_415(client, task):
    response = client.post(f"/api/tasks/{task.pk}/attachments/", {"file": "aGVsbG8="}, format="json")
    assert response.status_code == 415
    assert "detail" in response.json()
    assert_nothing_stored([])


@pytest.fixture
def foreign(client_for):
    """An attachment on another owner's task, and a client of someone outside that project."""
    owner = UserFactory()
    project = task_services.project_create(actor=owner, name="Elsewhere")
    task = make_task(project=project)
    return attach(task, b"not yours", "theirs.txt"), task


def test_a_foreign_tasks_attachments_are_404_to_list_and_upload(client, foreign):
    _, task = foreign
    before = stored_files()
    assert client.get(f"/api/tasks/{task.pk}/attachments/").status_code == 404
    assert upload(client, task.pk).status_code == 404
    assert_nothing_stored(before, count=1)


def test_a_foreign_attachment_is_404_to_read_download_and_delete(client, foreign):
    attachment, _ = foreign
    for response in (
        client.get(f"/api/attachments/{attachment.pk}/"),
        client.get(f"/api/attachments/{attachment.pk}/download/"),
        client.delete(f"/api/attachments/{attachment.pk}/"),
    ):
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
    assert Attachment.objects.filter(pk=attachment.pk).exists()


def test_a_viewer_cannot_upload_but_can_download(client_for, add_member, task):
    viewer = client_for(add_member("viewer"))
    attachment = attach(task, b"for everyone", "shared.txt")
    before = stored_files()

    response = upload(viewer, task.pk)
    assert response.status_code == 403
    assert_nothing_stored(before, count=1)
    _, data = downloaded(viewer, attachment.pk)
    assert data == b"for everyone"


def test_the_101st_attachment_of_a_task_is_400(client, task):
    attach(task, b"the first", "first.txt")
    # The other 99 as rows only: the limit counts rows.
    Attachment.objects.bulk_create(
        Attachment(
            task=task,
            project_id=task.project_id,
            file=f"attachments/{task.project_id}/{task.pk}/row-{index}",
            filename=f"{index}.txt",
            size=0,
            content_type="text/plain",
            sha256=hashlib.sha256(b"").hexdigest(),
        )
        for index in range(ATTACHMENTS_PER_TASK_MAX - 1)
    )
    before = stored_files()

    response = upload(client, task.pk)
    assert response.status_code == 400
    assert "file" in response.json()
    assert_nothing_stored(before, count=ATTACHMENTS_PER_TASK_MAX)


def test_two_files_in_one_upload_are_400(client, task):
    response = client.post(
        f"/api/tasks/{task.pk}/attachments/",
        {"file": [SimpleUploadedFile("a.txt", b"a"), SimpleUploadedFile("b.txt", b"b")]},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Send one file, in the `file` field."}
    assert_nothing_stored([])


def test_a_file_one_byte_over_the_upload_limit_is_413(client, task, settings):
    settings.TASKFLOW_MAX_UPLOAD_BYTES = 1024
    response = upload(client, task.pk, b"x" * 1025, "big.bin")
    assert response.status_code == 413
    assert response.json() == {"detail": "The file is larger than the largest attachment allowed."}
    assert_nothing_stored([])


def test_a_file_of_exactly_the_upload_limit_is_accepted(client, task, settings):
    settings.TASKFLOW_MAX_UPLOAD_BYTES = 1024
    content = b"y" * 1024
    body = uploaded(client, task.pk, content, "exact.bin")
    assert (body["size"], body["sha256"]) == (1024, hashlib.sha256(content).hexdigest())
    assert stored_path(body["id"]).read_bytes() == content


def test_an_empty_file_is_allowed(client, task):
    body = uploaded(client, task.pk, b"", "empty.txt")
    assert body["size"] == 0
    assert body["sha256"] == hashlib.sha256(b"").hexdigest()
    assert stored_path(body["id"]).read_bytes() == b""
    _, data = downloaded(client, body["id"])
    assert data == b""


def test_a_path_in_the_filename_is_reduced_to_its_last_component_and_stored_inside_media(client, task, tmp_path):
    response = upload_raw(client, task.pk, b"root:x:0:0", "../../etc/passwd")
    assert response.status_code == 201, response.content
    body = response.json()

    assert body["filename"] == "passwd"
    assert Attachment.objects.get(pk=body["id"]).filename == "passwd"
    assert stored_path(body["id"]).resolve().is_relative_to(media().resolve() / "attachments")
    # Nothing else in the test's folder, where ../../ from the storage would have led.
    outside = [path for path in tmp_path.rglob("*") if path.is_file() and not path.is_relative_to(media())]
    assert outside == []
    downloaded_response, _ = downloaded(client, body["id"])
    assert downloaded_response["Content-Disposition"] == 'attachment; filename="passwd"'


def test_a_300_character_filename_is_cut_to_255_keeping_its_extension(client, task):
    response = upload_raw(client, task.pk, b"long", "a" * 296 + ".txt")
    assert response.status_code == 201, response.content
    assert response.json()["filename"] == "a" * 251 + ".txt"
    assert len(response.json()["filename"]) == 255


def test_a_windows_path_is_reduced_to_its_file_name(client, task):
    response = upload_raw(client, task.pk, b"win", "C:\\x\\y.txt")
    assert response.status_code == 201, response.content
    assert response.json()["filename"] == "y.txt"


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\x\\y.txt", "y.txt"),
        ("/absolute/../..", "file"),
        ("a" * 296 + ".txt", "a" * 251 + ".txt"),
        ("tab\there\x00.txt", "tabhere.txt"),
    ],
    ids=["dot-dot", "windows", "nothing-left", "too-long", "control-characters"],
)
def test_the_service_keeps_only_a_safe_file_name_of_any_upload(task, tmp_path, name, kept):
    attachment = attach(task, b"named", name)
    assert attachment.filename == kept
    assert (media() / attachment.file.name).resolve().is_relative_to(media().resolve() / "attachments")
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == stored_files()


# --- Who may remove -------------------------------------------------------------------------------


@pytest.fixture
def members_attachment(client_for, add_member, task):
    """An attachment uploaded by a member, and that member."""
    uploader = add_member("member")
    return uploaded(client_for(uploader), task.pk, b"mine", "mine.txt"), uploader


@pytest.mark.parametrize("remover", ["uploader", "admin", "owner"])
def test_the_uploader_an_admin_or_the_owner_removes_an_attachment(
    client_for, add_member, user, members_attachment, remover
):
    body, uploader = members_attachment
    actor = {"uploader": lambda: uploader, "admin": lambda: add_member("admin"), "owner": lambda: user}[remover]()
    assert client_for(actor).delete(f"/api/attachments/{body['id']}/").status_code == 204
    assert not Attachment.objects.filter(pk=body["id"]).exists()


def test_another_member_cannot_remove_an_attachment(client_for, add_member, members_attachment):
    body, _ = members_attachment
    response = client_for(add_member("member")).delete(f"/api/attachments/{body['id']}/")
    assert response.status_code == 403
    assert Attachment.objects.filter(pk=body["id"]).exists()
    assert stored_path(body["id"]).exists()


# --- Files deleted with their task or project -----------------------------------------------------


def test_deleting_the_task_deletes_its_attachments_files_once_the_jobs_run(client, task, project):
    paths = [stored_path(uploaded(client, task.pk, f"{index}".encode())["id"]) for index in range(2)]
    other = stored_path(uploaded(client, make_task(project=project).pk)["id"])

    assert client.delete(f"/api/tasks/{task.pk}/").status_code == 204
    assert not Attachment.objects.filter(task_id=task.pk).exists()
    assert all(path.exists() for path in paths)

    jobs_run()
    assert stored_files() == [other]


def test_deleting_the_project_deletes_its_attachments_files_once_the_jobs_run(client, project, task):
    uploaded(client, task.pk)
    uploaded(client, make_task(project=project).pk)
    assert len(stored_files()) == 2

    assert client.delete(f"/api/projects/{project.pk}/").status_code == 204
    assert Attachment.objects.count() == 0
    assert len(stored_files()) == 2

    jobs_run()
    assert stored_files() == []


def test_a_subtasks_attachments_go_when_its_parent_is_deleted(client, project, task):
    subtask = make_task(project=project, title="Sub", parent=task.pk)
    assert subtask.parent_id == task.pk
    uploaded(client, subtask.pk, b"sub file")

    assert client.delete(f"/api/tasks/{task.pk}/").status_code == 204
    assert not Task.objects.filter(pk=subtask.pk).exists()
    assert Attachment.objects.count() == 0

    jobs_run()
    assert stored_files() == []


# --- Orphans and failed uploads -------------------------------------------------------------------


def test_the_orphan_sweep_deletes_files_no_row_refers_to_and_keeps_the_others(client, task):
    kept = stored_path(uploaded(client, task.pk, b"kept")["id"])
    orphan = media() / "attachments" / str(task.project_id) / str(task.pk) / "0123456789abcdef"
    orphan.write_bytes(b"left by a crashed upload")

    # Too young to be an orphan yet: an upload stores its file just before its row.
    assert orphans_delete(older_than=timezone.now() - timedelta(hours=1)) == 0
    assert orphan.exists()

    assert orphans_delete(older_than=timezone.now() + timedelta(seconds=1)) == 1
    assert not orphan.exists()
    assert stored_files() == [kept]
    assert kept.read_bytes() == b"kept"


def test_an_upload_to_a_task_deleted_meanwhile_is_404_and_leaves_no_file(project):
    task = make_task(project=project)
    task = Task.objects.get(pk=task.pk)
    Task.objects.filter(pk=task.pk).delete()

    with pytest.raises(NotFound) as raised:
        services.attachment_add(task=task, actor=project.owner, upload=ContentFile(b"late", "late.txt"), operator=True)
    assert raised.value.status_code == 404
    assert_nothing_stored([])


# --- Events, activity, payload --------------------------------------------------------------------


def test_an_upload_records_attachment_added_with_its_payload_in_the_feed(client, user, project, task):
    seq = current_seq(project)
    body = uploaded(client, task.pk, b"evented", "event.txt")

    events = events_since(client, project, seq)
    assert [(event["type"], event["actor"], event["data"]) for event in events] == [("attachment.added", user.pk, body)]


def test_a_removal_records_attachment_removed_with_the_payload_as_it_was(client, user, project, task):
    body = uploaded(client, task.pk, b"evented", "event.txt")
    seq = current_seq(project)
    client.delete(f"/api/attachments/{body['id']}/")

    events = events_since(client, project, seq)
    assert [(event["type"], event["actor"], event["data"]) for event in events] == [
        ("attachment.removed", user.pk, body)
    ]


def test_uploads_and_removals_are_in_the_tasks_activity(client, user, task):
    body = uploaded(client, task.pk, b"act", "act.txt")
    client.delete(f"/api/attachments/{body['id']}/")

    response = client.get(f"/api/tasks/{task.pk}/activity/")
    assert response.status_code == 200
    entries = [entry for entry in response.json()["results"] if entry["kind"].startswith("attachment.")]
    fields = ["filename", "size", "content_type", "sha256", "uploaded_by"]
    assert [(entry["kind"], entry["actor"], entry["task"]) for entry in entries] == [
        ("attachment.removed", user.pk, task.pk),
        ("attachment.added", user.pk, task.pk),
    ]
    assert entries[1]["changes"] == {name: [None, body[name]] for name in fields}
    assert entries[0]["changes"] == {name: [body[name], None] for name in fields}
    assert Activity.objects.filter(task_id=task.pk, kind__startswith="attachment.").count() == 2


def test_the_payload_is_exactly_the_serializers_declared_fields(client, task):
    body = uploaded(client, task.pk, b"shape", "shape.txt")
    attachment = Attachment.objects.get(pk=body["id"])
    declared = serializers.ModelSerializer.to_representation(AttachmentSerializer(attachment), attachment)

    assert attachment_payload(attachment) == declared
    assert AttachmentSerializer(attachment).data == declared
    assert list(attachment_payload(attachment)) == list(AttachmentPayload.__annotations__)


def test_an_attachment_whose_uploader_left_has_a_null_uploader_in_the_payload(client_for, add_member, task):
    member = add_member("member")
    body = uploaded(client_for(member), task.pk)
    member.delete()
    attachment = Attachment.objects.get(pk=body["id"])
    declared = serializers.ModelSerializer.to_representation(AttachmentSerializer(attachment), attachment)
    assert attachment_payload(attachment) == declared
    assert declared["uploaded_by"] is None


# --- Work per request -----------------------------------------------------------------------------


def list_statements(client, task) -> list[str]:
    with CaptureQueriesContext(connection) as queries, TestCase.captureOnCommitCallbacks(execute=True):
        response = client.get(f"/api/tasks/{task.pk}/attachments/?page_size=50")
    assert response.status_code == 200
    return [query["sql"] for query in queries if not query["sql"].upper().startswith(TRANSACTION_CONTROL)]


def test_the_list_runs_as_many_statements_for_20_attachments_as_for_2(client, project):
    few, many = make_task(project=project), make_task(project=project)
    for _ in range(2):
        attach(few)
    for _ in range(20):
        attach(many)

    statements_few = list_statements(client, few)
    statements_many = list_statements(client, many)
    assert len(client.get(f"/api/tasks/{many.pk}/attachments/?page_size=50").json()["results"]) == 20
    assert len(statements_few) == len(statements_many), statements_many
