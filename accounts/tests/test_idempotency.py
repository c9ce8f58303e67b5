"""Idempotent writes (accounts.idempotency): a write sent again with the same `Idempotency-Key` runs
once and gets the first answer back; the key with another request is a 422, a repeat while the
first runs a 409, and a failed run (5xx, or a connection the database lost) is forgotten so that it
can be sent again at once.

The tests of real concurrency (a first request held by a row lock while its repeat comes) need
MySQL's row locks and run in the MySQL + Redis pass; the rest run in both passes.
"""

import hashlib
import threading
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts import idempotency
from accounts.jobs import idempotent_requests_prune
from accounts.models import IdempotentRequest
from accounts.services import personal_token_create
from attachments.models import Attachment
from operations.periodic import PERIODIC_JOBS
from realtime.models import Event
from realtime.tests.servers import wait_until
from tasks import services
from tasks.api import TaskViewSet
from tasks.models import Project, Task

TASKS = "/api/tasks/"
KEY = "4d1f0c0e-6b8e-4d3a-9a43-2f7c1f0b9e11"


def keyed(client, method: str, path: str, data=None, *, key: str = KEY, **extra):
    """One request of `client` with `Idempotency-Key: key` (JSON unless `format` says otherwise)."""
    extra.setdefault("format", "json")
    return getattr(client, method.lower())(path, data, HTTP_IDEMPOTENCY_KEY=key, **extra)


def events_of(project) -> list[str]:
    return list(Event.objects.filter(project=project).order_by("seq").values_list("type", flat=True))


def kept_row(user, *, key: str = KEY, method: str = "POST", path: str = TASKS, ago=timedelta(0), **fields):
    """A row as a request that ran with `key` leaves it (a 201 unless `fields` say otherwise)."""
    return IdempotentRequest.objects.create(
        **{
            "user": user,
            "key": key,
            "key_digest": hashlib.sha256(key.encode()).hexdigest(),
            "method": method,
            "path": path,
            "created_at": timezone.now() - ago,
            "status": 201,
            "body": b"{}",
            **fields,
        }
    )


# --- Repeats are answered from the first answer ----------------------------------------------------


@pytest.mark.django_db
def test_a_repeated_create_makes_one_task_and_one_event_and_is_replayed(client, project):
    first = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Ship it"})
    repeat = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Ship it"})

    assert (first.status_code, repeat.status_code) == (201, 201)
    assert repeat.content == first.content
    assert (repeat["ETag"], repeat["Content-Type"]) == (first["ETag"], first["Content-Type"])
    assert repeat["Idempotency-Replayed"] == "true"
    assert "Idempotency-Replayed" not in first
    assert list(Task.objects.values_list("title", flat=True)) == ["Ship it"]
    assert events_of(project) == ["member.added", "task.created"]


@pytest.mark.django_db
def test_a_repeated_patch_changes_the_task_once(client, user, project):
    task = services.task_create(project=project, actor=user, data={"title": "Draft"}, operator=True)

    first = keyed(client, "PATCH", f"{TASKS}{task.pk}/", {"title": "Final"}, HTTP_IF_MATCH='"1"')
    repeat = keyed(client, "PATCH", f"{TASKS}{task.pk}/", {"title": "Final"}, HTTP_IF_MATCH='"1"')

    # Without the key the repeat would be a 412: version 1 is no longer current.
    assert (first.status_code, repeat.status_code) == (200, 200)
    assert repeat.json() == first.json()
    assert repeat.json()["version"] == 2
    assert Task.objects.get(pk=task.pk).version == 2
    assert events_of(project) == ["member.added", "task.created", "task.updated"]


@pytest.mark.django_db
def test_a_repeated_delete_answers_204_again_not_404(client, user, project):
    task = services.task_create(project=project, actor=user, data={"title": "Gone"}, operator=True)

    first = keyed(client, "DELETE", f"{TASKS}{task.pk}/")
    repeat = keyed(client, "DELETE", f"{TASKS}{task.pk}/")

    assert (first.status_code, repeat.status_code) == (204, 204)
    assert (repeat.content, repeat["Idempotency-Replayed"]) == (b"", "true")
    assert "Content-Type" not in repeat
    assert events_of(project) == ["member.added", "task.created", "task.deleted"]


@pytest.mark.django_db
def test_a_refused_request_is_kept_and_refused_the_same_way(client, project):
    first = keyed(client, "POST", TASKS, {"project": project.pk, "title": ""})
    repeat = keyed(client, "POST", TASKS, {"project": project.pk, "title": ""})

    assert (first.status_code, repeat.status_code) == (400, 400)
    assert repeat.json() == first.json() == {"title": ["This field may not be blank."]}
    assert repeat["Idempotency-Replayed"] == "true"
    assert IdempotentRequest.objects.get().status == 400


@pytest.mark.django_db
def test_the_repeat_of_an_upload_is_replayed_even_with_another_multipart_boundary(client, user, project):
    task = services.task_create(project=project, actor=user, data={"title": "Files"}, operator=True)
    path = f"{TASKS}{task.pk}/attachments/"

    def upload(boundary: str, content: bytes):
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="plan.txt"\r\n'
                "Content-Type: text/plain\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return client.generic(
            "POST",
            path,
            body,
            content_type=f"multipart/form-data; boundary={boundary}",
            HTTP_IDEMPOTENCY_KEY=KEY,
        )

    first = upload("curl-chose-this-one", b"the plan")
    repeat = upload("and-this-one-the-second-time", b"the plan")
    other_file = upload("a-third-boundary", b"another plan")

    assert (first.status_code, repeat.status_code, other_file.status_code) == (201, 201, 422)
    assert repeat.json() == first.json()
    assert repeat["Idempotency-Replayed"] == "true"
    [attachment] = Attachment.objects.all()
    assert attachment.sha256 == hashlib.sha256(b"the plan").hexdigest()
    assert events_of(project) == ["member.added", "task.created", "attachment.added"]


@pytest.mark.django_db
def test_a_repeat_is_replayed_for_a_personal_access_token_and_a_session_too(client_for, user, project):
    _, raw = personal_token_create(user=user, name="bot", scope="write")
    bot = client_for(user)
    bot.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    browser = client_for(user)
    browser.credentials()
    browser.force_login(user)

    for caller, key in ((bot, "bot-key"), (browser, "browser-key")):
        first = keyed(caller, "POST", TASKS, {"project": project.pk, "title": key}, key=key)
        repeat = keyed(caller, "POST", TASKS, {"project": project.pk, "title": key}, key=key)
        assert (first.status_code, repeat.status_code, repeat["Idempotency-Replayed"]) == (201, 201, "true")

    assert sorted(Task.objects.values_list("title", flat=True)) == ["bot-key", "browser-key"]


# --- The key with another request ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("POST", TASKS, {"title": "Another title"}),
        ("POST", f"{TASKS}?project=1", {}),
        ("POST", "/api/projects/", {"name": "Another project"}),
    ],
    ids=["another body", "another query", "another path"],
)
def test_the_key_with_another_request_is_422_and_changes_nothing(client, project, method, path, data):
    created = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Ship it"})
    assert created.status_code == 201

    response = keyed(client, method, path, {"project": project.pk, "title": "Ship it", **data})

    assert response.status_code == 422
    assert set(response.json()) == {"detail"}
    assert list(Task.objects.values_list("title", flat=True)) == ["Ship it"]
    assert Project.objects.count() == 1
    assert events_of(project) == ["member.added", "task.created"]


@pytest.mark.django_db
def test_the_key_with_another_method_on_the_same_path_is_422_and_changes_nothing(client, user, project):
    task = services.task_create(project=project, actor=user, data={"title": "Draft"}, operator=True)
    assert keyed(client, "PATCH", f"{TASKS}{task.pk}/", {"title": "Final"}).status_code == 200

    response = keyed(client, "DELETE", f"{TASKS}{task.pk}/")

    assert response.status_code == 422
    assert Task.objects.get(pk=task.pk).title == "Final"


@pytest.mark.django_db
def test_a_method_the_route_does_not_offer_is_its_405_whatever_the_key(client, project):
    assert keyed(client, "POST", TASKS, {"project": project.pk, "title": "Ship it"}).status_code == 201

    response = keyed(client, "PUT", TASKS, {"project": project.pk, "title": "Ship it"})

    assert response.status_code == 405
    assert IdempotentRequest.objects.count() == 1


@pytest.mark.django_db
def test_two_users_with_the_same_key_are_independent(client, client_for, add_member, project):
    member = add_member("member")

    mine = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Mine"})
    theirs = keyed(client_for(member), "POST", TASKS, {"project": project.pk, "title": "Theirs"})

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotency-Replayed" not in theirs
    assert sorted(Task.objects.values_list("title", flat=True)) == ["Mine", "Theirs"]


@pytest.mark.django_db
def test_keys_that_differ_only_in_case_are_different_keys(client, project):
    # MySQL compares text ignoring case; keys are identified by their digest.
    lower = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Lower"}, key="abc")
    upper = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Upper"}, key="ABC")

    assert (lower.status_code, upper.status_code) == (201, 201)
    assert Task.objects.count() == 2


# --- Failures, and a repeat while the first runs ---------------------------------------------------


@pytest.mark.django_db
def test_a_server_error_is_not_kept_its_write_is_undone_and_the_request_can_be_sent_again(client, project, monkeypatch):
    create = services.task_create

    def create_then_fail(**kwargs):
        create(**kwargs)
        raise RuntimeError("the server failed after the write")

    monkeypatch.setattr(services, "task_create", create_then_fail)
    client.raise_request_exception = False

    failed = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Ship it"})

    assert failed.status_code == 500
    assert (Task.objects.count(), IdempotentRequest.objects.count()) == (0, 0)
    assert events_of(project) == ["member.added"]

    monkeypatch.setattr(services, "task_create", create)
    again = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Ship it"})

    assert again.status_code == 201
    assert "Idempotency-Replayed" not in again
    assert Task.objects.count() == 1


@pytest.mark.django_db
def test_a_streamed_answer_is_not_kept_but_its_write_stands(client, project, monkeypatch):
    create = TaskViewSet.create

    def create_and_stream(view, request, *args, **kwargs):
        response = create(view, request, *args, **kwargs)
        return StreamingHttpResponse(iter([b"created"]), status=response.status_code)

    monkeypatch.setattr(TaskViewSet, "create", create_and_stream)

    first = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Streamed"})
    again = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Streamed"})

    assert (first.status_code, b"".join(first.streaming_content)) == (201, b"created")
    assert "Idempotency-Replayed" not in again
    assert Task.objects.count() == 2
    assert IdempotentRequest.objects.count() == 0


# --- When the key does not apply, and malformed keys ------------------------------------------------


@pytest.mark.django_db
def test_without_a_key_every_request_runs_and_nothing_is_kept(client, project):
    for _ in range(2):
        assert client.post(TASKS, {"project": project.pk, "title": "Twice"}, format="json").status_code == 201

    assert Task.objects.count() == 2
    assert IdempotentRequest.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key", ["", "x" * 256, "with space", "tab\there", "caf\u00e9"], ids=["empty", "256", "space", "tab", "non-ascii"]
)
def test_a_malformed_key_is_400_and_nothing_runs(client, project, key):
    response = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Ship it"}, key=key)

    assert response.status_code == 400
    assert response.json() == {"detail": idempotency.MALFORMED_KEY}
    assert (Task.objects.count(), IdempotentRequest.objects.count()) == (0, 0)


@pytest.mark.django_db
def test_a_key_of_255_visible_characters_is_taken(client, project):
    key = "".join(chr(33 + index % 94) for index in range(255))

    first = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Ship it"}, key=key)
    repeat = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Ship it"}, key=key)

    assert (first.status_code, repeat.status_code, repeat["Idempotency-Replayed"]) == (201, 201, "true")


@pytest.mark.django_db
def test_an_anonymous_request_ignores_the_key(api_client):
    account = {"username": "ada", "email": "ada@example.com", "password": "a-long-passphrase-1"}

    first = keyed(api_client, "POST", "/api/auth/register/", account, key="")
    repeat = keyed(api_client, "POST", "/api/auth/register/", account, key="")

    # Run twice: the second is refused for the taken username, not replayed.
    assert (first.status_code, repeat.status_code) == (201, 400)
    assert "Idempotency-Replayed" not in repeat
    assert IdempotentRequest.objects.count() == 0


@pytest.mark.django_db
def test_an_invalid_token_with_a_key_is_the_views_401_and_nothing_is_kept(api_client, project):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = keyed(api_client, "POST", TASKS, {"project": project.pk, "title": "Ship it"})

    assert response.status_code == 401
    assert IdempotentRequest.objects.count() == 0


@pytest.mark.django_db
def test_a_new_personal_token_is_never_kept_for_a_key(client):
    first = keyed(client, "POST", "/api/auth/tokens/", {"name": "bot", "scope": "write"})
    repeat = keyed(client, "POST", "/api/auth/tokens/", {"name": "bot", "scope": "write"})

    # The token is shown once and stored hashed: a repeat makes another one.
    assert (first.status_code, repeat.status_code) == (201, 201)
    assert first.json()["token"] != repeat.json()["token"]
    assert IdempotentRequest.objects.count() == 0


# --- Retention ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_key_older_than_a_day_is_forgotten_and_runs_anew(client, user, project):
    kept_row(user, ago=idempotency.RETENTION + timedelta(minutes=1))

    response = keyed(client, "POST", TASKS, {"project": project.pk, "title": "Ship it"})

    assert response.status_code == 201
    assert "Idempotency-Replayed" not in response
    assert Task.objects.count() == 1
    assert IdempotentRequest.objects.get().created_at > timezone.now() - timedelta(minutes=1)


@pytest.mark.django_db
def test_the_prune_deletes_keys_older_than_a_day_only(user, run_jobs):
    kept_row(user, key="old", ago=idempotency.RETENTION + timedelta(minutes=1))
    kept_row(user, key="recent", ago=idempotency.RETENTION - timedelta(minutes=1))

    idempotent_requests_prune.enqueue()
    run_jobs()

    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["recent"]


def test_the_prune_runs_every_hour():
    assert PERIODIC_JOBS["accounts.jobs.idempotent_requests_prune"] == timedelta(hours=1)


# --- Real concurrency (MySQL) -------------------------------------------------------------------


@pytest.fixture
def on_mysql():
    if connection.vendor != "mysql":
        pytest.skip("a request held by a row lock needs MySQL; this runs in the MySQL + Redis pass")


class ProjectLock:
    """Holds the project's row lock in a thread of its own, so a task create there waits for it."""

    def __init__(self, project) -> None:
        self.project_id = project.pk
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                Project.objects.select_for_update().get(pk=self.project_id)
                self.locked.set()
                self.release.wait(timeout=30)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(timeout=10)
        return self

    def __exit__(self, *exc_info) -> None:
        self.release.set()
        self.thread.join(timeout=30)


def in_thread(request) -> tuple[threading.Thread, list]:
    """Start `request()` in a thread of its own (with its own connection); its answer lands in the list."""
    answers = []

    def run() -> None:
        try:
            answers.append(request())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, answers


def claim_of(key: str = KEY) -> IdempotentRequest | None:
    """The key's row, as committed."""
    return IdempotentRequest.objects.filter(key_digest=hashlib.sha256(key.encode()).hexdigest()).first()


def claim_is_held(key: str = KEY) -> bool:
    """Whether a running request holds the key: its row, not committed yet, is locked."""
    try:
        with transaction.atomic():
            IdempotentRequest.objects.select_for_update(nowait=True).filter(
                key_digest=hashlib.sha256(key.encode()).hexdigest()
            ).first()
    except OperationalError:
        return True
    return False


@pytest.mark.django_db(transaction=True)
def test_a_repeat_while_the_first_waits_for_a_lock_is_409_and_replayed_once_it_ran(on_mysql, client_for, user, project):
    body = {"project": project.pk, "title": "Ship it"}
    with ProjectLock(project):
        first, answers = in_thread(lambda: keyed(client_for(user), "POST", TASKS, body))
        wait_until(claim_is_held, timeout=10, what="the first request's claim")

        meanwhile = keyed(client_for(user), "POST", TASKS, body)
        assert claim_of() is None  # nobody sees a claim before its request ends
    first.join(timeout=30)
    afterwards = keyed(client_for(user), "POST", TASKS, body)

    assert meanwhile.status_code == 409
    assert meanwhile.json() == {"detail": idempotency.STILL_RUNNING}
    [answer] = answers
    assert (answer.status_code, afterwards.status_code) == (201, 201)
    assert afterwards.content == answer.content
    assert afterwards["Idempotency-Replayed"] == "true"
    assert Task.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_another_request_with_the_key_is_409_while_the_first_runs_and_422_after(on_mysql, client_for, user, project):
    with ProjectLock(project):
        first, answers = in_thread(
            lambda: keyed(client_for(user), "POST", TASKS, {"project": project.pk, "title": "Ship it"})
        )
        wait_until(claim_is_held, timeout=10, what="the first request's claim")

        meanwhile = keyed(client_for(user), "POST", "/api/projects/", {"name": "Other"})
    first.join(timeout=30)
    afterwards = keyed(client_for(user), "POST", "/api/projects/", {"name": "Other"})

    assert (meanwhile.status_code, afterwards.status_code) == (409, 422)
    assert [answer.status_code for answer in answers] == [201]
    assert Project.objects.count() == 1


def busy_connections() -> list[int]:
    """The ids of the test database's other connections that are running a statement now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM information_schema.processlist"
            " WHERE id <> CONNECTION_ID() AND db = DATABASE() AND info IS NOT NULL"
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_the_claim_of_a_request_whose_connection_died_goes_with_it_and_a_retry_runs_at_once(
    on_mysql, client_for, user, project
):
    """As when the server process running it dies: the database rolls back what the lost
    connection had not committed, its claim included."""
    body = {"project": project.pk, "title": "Ship it"}

    def request():
        client = client_for(user)
        client.raise_request_exception = False
        return keyed(client, "POST", TASKS, body)

    with ProjectLock(project):
        first, answers = in_thread(request)
        wait_until(claim_is_held, timeout=10, what="the first request's claim")
        # The request's connection is the one running a statement: it waits for the lock; the
        # lock's holder is idle in its transaction.
        wait_until(lambda: len(busy_connections()) == 1, timeout=10, what="the request's wait for the lock")
        [waiting] = busy_connections()
        with connection.cursor() as cursor:
            cursor.execute(f"KILL {int(waiting)}")
        first.join(timeout=30)
        wait_until(lambda: not claim_is_held(), timeout=10, what="the claim's rollback")
    again = keyed(client_for(user), "POST", TASKS, body)

    assert [answer.status_code for answer in answers] == [503]
    assert again.status_code == 201
    assert "Idempotency-Replayed" not in again
    assert Task.objects.count() == 1
    assert events_of(project) == ["member.added", "task.created"]
    assert claim_of().status == 201


@pytest.mark.django_db(transaction=True)
def test_a_write_the_database_gave_up_on_is_not_kept_and_runs_when_sent_again(on_mysql, client_for, user, project):
    task = services.task_create(project=project, actor=user, data={"title": "Held"}, operator=True)
    body = {"title": "Waited"}

    def request():
        client = client_for(user)
        client.raise_request_exception = False
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
        return keyed(client, "PATCH", f"{TASKS}{task.pk}/", body)

    with transaction.atomic():
        Task.objects.select_for_update().get(pk=task.pk)
        requester, answers = in_thread(request)
        requester.join(timeout=15)

    [answer] = answers
    assert answer.status_code == 503
    assert claim_of() is None
    again = keyed(client_for(user), "PATCH", f"{TASKS}{task.pk}/", body)
    assert again.status_code == 200
    assert "Idempotency-Replayed" not in again
    assert Task.objects.get(pk=task.pk).title == "Waited"


@pytest.mark.django_db
def test_operators_see_kept_requests_in_the_admin_but_cannot_change_them(admin_client, user):
    row = kept_row(user, body=b'{"id": 1}')

    listing = admin_client.get("/admin/accounts/idempotentrequest/")
    detail = admin_client.get(f"/admin/accounts/idempotentrequest/{row.pk}/change/")
    deleted = admin_client.post(f"/admin/accounts/idempotentrequest/{row.pk}/delete/", {"post": "yes"})

    assert (listing.status_code, detail.status_code) == (200, 200)
    assert KEY in listing.content.decode()
    assert b'name="_save"' not in detail.content
    assert deleted.status_code == 302
    assert IdempotentRequest.objects.count() == 0
