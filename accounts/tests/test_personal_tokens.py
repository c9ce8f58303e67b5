"""Personal access tokens: made once and shown once, stored hashed, scoped, revoked at once, on
REST and on the WebSocket, and unable to manage tokens or the password."""

import hashlib
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import PersonalAccessToken
from accounts.services import personal_token_create, personal_token_revoke
from accounts.tests.factories import UserFactory
from realtime.hub import ProjectHub
from realtime.tests.websocket import FRAME_TIMEOUT, auth_ok
from tasks import services
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

TOKENS = "/api/auth/tokens/"
FIELDS = {"id", "name", "scope", "created_at", "expires_at", "last_used_at"}


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def make_token(client, scope: str = "write", **fields) -> dict:
    response = client.post(TOKENS, {"name": "ci bot", "scope": scope, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- Making, listing, revoking ---------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(client, user):
    made = make_token(client)

    assert set(made) == FIELDS | {"token"}
    assert made["token"].startswith("tfp_") and len(made["token"]) >= 4 + 43
    assert (made["name"], made["scope"], made["expires_at"], made["last_used_at"]) == ("ci bot", "write", None, None)
    stored = PersonalAccessToken.objects.get(pk=made["id"])
    assert stored.user == user
    assert stored.key_hash == hashlib.sha256(made["token"].encode()).hexdigest()
    assert made["token"] not in str(PersonalAccessToken.objects.filter(pk=made["id"]).values().get())
    [listed] = client.get(TOKENS).json()["results"]
    assert listed == {key: value for key, value in made.items() if key != "token"}


def test_the_list_is_the_callers_own_newest_first(client, client_for):
    first, second = make_token(client), make_token(client, name="deploy")
    make_token(client_for(UserFactory()))

    assert [token["id"] for token in client.get(TOKENS).json()["results"]] == [second["id"], first["id"]]


@pytest.mark.parametrize(
    "body",
    [
        {"scope": "write"},
        {"name": "", "scope": "write"},
        {"name": "x" * 101, "scope": "write"},
        {"name": "bot", "scope": "admin"},
        {"name": "bot"},
        {"name": 7, "scope": "write"},
        {"name": "bot", "scope": "read", "expires_at": "yesterday"},
    ],
)
def test_bad_input_is_a_400_and_makes_no_token(client, body):
    assert client.post(TOKENS, body, format="json").status_code == 400
    assert not PersonalAccessToken.objects.exists()


@pytest.mark.parametrize("when", [timedelta(days=-1), timedelta(days=367)], ids=["past", "over-a-year"])
def test_an_expiry_in_the_past_or_over_a_year_ahead_is_a_400(client, when):
    response = client.post(
        TOKENS, {"name": "bot", "scope": "read", "expires_at": (timezone.now() + when).isoformat()}, format="json"
    )
    assert response.status_code == 400
    assert "expires_at" in response.json()
    assert not PersonalAccessToken.objects.exists()


def test_an_expiry_within_a_year_is_kept(client):
    expires = timezone.now() + timedelta(days=30)
    made = make_token(client, expires_at=expires.isoformat())
    assert abs(PersonalAccessToken.objects.get(pk=made["id"]).expires_at - expires) < timedelta(seconds=1)


def test_revoking_a_token_refuses_its_next_request(client, project):
    made = make_token(client)
    bot = bearer(made["token"])
    assert bot.get(f"/api/projects/{project.pk}/").status_code == 200

    assert client.delete(f"{TOKENS}{made['id']}/").status_code == 204

    response = bot.get(f"/api/projects/{project.pk}/")
    assert response.status_code == 401
    assert not PersonalAccessToken.objects.exists()


def test_someone_elses_token_cannot_be_revoked(client, client_for):
    theirs = make_token(client_for(UserFactory()))
    assert client.delete(f"{TOKENS}{theirs['id']}/").status_code == 404
    assert PersonalAccessToken.objects.filter(pk=theirs["id"]).exists()


def test_tokens_need_a_signed_in_user(api_client):
    assert api_client.get(TOKENS).status_code == 401
    assert api_client.post(TOKENS, {"name": "bot", "scope": "read"}, format="json").status_code == 401


# --- Using one ------------------------------------------------------------------------------------


def test_a_write_token_reads_and_writes_as_its_user(client, user, project):
    bot = bearer(make_token(client)["token"])
    task = bot.post("/api/tasks/", {"project": project.pk, "title": "From the bot"}, format="json")

    assert task.status_code == 201
    assert task.json()["created_by"] == user.pk
    assert bot.patch(f"/api/tasks/{task.json()['id']}/", {"status": "done"}, format="json").status_code == 200
    assert bot.get(f"/api/tasks/?project={project.pk}").json()["results"][0]["status"] == "done"


def test_a_read_token_reads_and_every_write_is_a_403_that_changes_nothing(client, project):
    task = make_task(project=project, title="Stays")
    bot = bearer(make_token(client, scope="read")["token"])

    assert bot.get(f"/api/tasks/{task.pk}/").status_code == 200
    writes = [
        bot.patch(f"/api/tasks/{task.pk}/", {"title": "Changed"}, format="json"),
        bot.post("/api/tasks/", {"project": project.pk, "title": "New"}, format="json"),
        bot.delete(f"/api/tasks/{task.pk}/"),
        bot.post(f"/api/tasks/{task.pk}/comments/", {"body": "hi"}, format="json"),
    ]
    assert [response.status_code for response in writes] == [403] * 4
    assert writes[0].json() == {"detail": "This personal access token may only read."}
    task.refresh_from_db()
    assert (task.title, task.version, project.tasks.count()) == ("Stays", 1, 1)


@pytest.mark.parametrize("scope", ["read", "write"])
def test_a_token_cannot_manage_tokens_or_the_password(client, scope):
    made = make_token(client, scope=scope)
    bot = bearer(made["token"])

    answers = [
        bot.get(TOKENS),
        bot.post(TOKENS, {"name": "another", "scope": "write"}, format="json"),
        bot.delete(f"{TOKENS}{made['id']}/"),
        bot.post("/api/auth/password/", {"old_password": "x", "new_password": "a-long-new-passphrase"}, format="json"),
    ]
    assert [response.status_code for response in answers] == [403] * 4
    assert PersonalAccessToken.objects.count() == 1


def test_a_write_token_may_change_names_but_not_the_email(client, user):
    email = user.email
    bot = bearer(make_token(client)["token"])
    assert bot.patch("/api/auth/me/", {"first_name": "Robo"}, format="json").status_code == 200
    assert bot.patch("/api/auth/me/", {"email": "attacker@example.com"}, format="json").status_code == 403
    user.refresh_from_db()
    assert (user.first_name, user.email) == ("Robo", email)


def test_an_expired_token_is_refused(client, project):
    made = make_token(client, expires_at=(timezone.now() + timedelta(days=1)).isoformat())
    PersonalAccessToken.objects.filter(pk=made["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = bearer(made["token"]).get(f"/api/projects/{project.pk}/")
    assert response.status_code == 401
    assert response.json()["detail"] == "The personal access token has expired."


@pytest.mark.parametrize("token", ["tfp_unknown", "tfp_" + "x" * 300, "tfp_"])
def test_an_unknown_token_is_a_401(token, project):
    assert bearer(token).get(f"/api/projects/{project.pk}/").status_code == 401


def test_the_token_of_a_deactivated_user_is_refused(client, user, project):
    bot = bearer(make_token(client)["token"])
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert bot.get(f"/api/projects/{project.pk}/").status_code == 401


def test_last_used_at_is_written_at_most_once_a_minute(client, project):
    made = make_token(client)
    bot = bearer(made["token"])
    bot.get(f"/api/projects/{project.pk}/")
    first = PersonalAccessToken.objects.get(pk=made["id"]).last_used_at
    assert first is not None
    bot.get(f"/api/projects/{project.pk}/")
    assert PersonalAccessToken.objects.get(pk=made["id"]).last_used_at == first

    PersonalAccessToken.objects.filter(pk=made["id"]).update(last_used_at=first - timedelta(minutes=2))
    bot.get(f"/api/projects/{project.pk}/")
    assert PersonalAccessToken.objects.get(pk=made["id"]).last_used_at > first


@pytest.mark.parametrize(
    "path",
    [
        "/api/projects/",
        "/api/projects/{project}/",
        "/api/tasks/?project={project}",
        "/api/tasks/{task}/",
        "/api/tasks/{task}/comments/",
        "/api/projects/{project}/events/?since=0",
    ],
)
def test_checking_a_token_costs_no_more_statements_than_checking_a_jwt(client, project, path):
    path = path.format(project=project.pk, task=make_task(project=project).pk)
    bot = bearer(make_token(client)["token"])
    # Its first use is noted (one UPDATE, then not for a minute), and the page is cached for both.
    bot.get(path)

    def statements(api: APIClient) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(path).status_code == 200
        return len(queries)

    # A JWT's check is a query of the user's row, or a join in the view's first read; a token's
    # is a query of the token joined with its user, or a join of both in that first read.
    assert statements(bot) == statements(client)


def test_a_token_checked_in_a_views_first_read_is_refused_when_revoked_expired_or_of_another(client, project):
    task = make_task(project=project)
    made = make_token(client)
    bot = bearer(made["token"])
    assert bot.get(f"/api/tasks/{task.pk}/").status_code == 200

    # Claiming another user's id changes the token, which then matches no hash.
    other = UserFactory()
    services.member_add(project=project, actor=project.owner, user=other.pk, role="member", operator=True)
    forged = made["token"].replace(f"tfp_{made['token'].split('_')[1]}_", f"tfp_{other.pk}_", 1)
    assert bearer(forged).get(f"/api/tasks/{task.pk}/").status_code == 401

    PersonalAccessToken.objects.filter(pk=made["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bot.get(f"/api/tasks/{task.pk}/")
    assert (response.status_code, response.json()["detail"]) == (401, "The personal access token has expired.")

    PersonalAccessToken.objects.filter(pk=made["id"]).delete()
    assert bot.get(f"/api/tasks/{task.pk}/").status_code == 401
    assert bot.get(f"/api/tasks/?project={project.pk}").status_code == 401


def test_a_read_token_checked_in_a_views_first_read_still_may_not_write(client, project):
    task = make_task(project=project)
    bot = bearer(make_token(client, scope="read")["token"])

    response = bot.patch(f"/api/tasks/{task.pk}/", {"title": "Renamed by a reader"}, format="json")

    assert response.status_code == 403
    task.refresh_from_db()
    assert task.title != "Renamed by a reader"


def test_a_token_names_its_user(client, user):
    assert make_token(client)["token"].startswith(f"tfp_{user.pk}_")


def test_a_token_in_a_log_line_never_appears(client, project, caplog):
    made = make_token(client)
    bearer(made["token"]).get("/api/tasks/999999/")  # a 404, logged
    bearer(made["token"] + "x").get(f"/api/projects/{project.pk}/")  # a 401, logged
    assert made["token"] not in caplog.text
    assert made["token"][4:] not in caplog.text


# --- On the WebSocket -----------------------------------------------------------------------------


@sync_to_async
def token_of(user, **fields) -> tuple[PersonalAccessToken, str]:
    return personal_token_create(user=user, name="socket bot", scope=fields.pop("scope", "read"), **fields)


@pytest.mark.django_db(transaction=True)
async def test_a_socket_signs_in_with_a_token_and_closes_4401_when_it_is_revoked(sockets, user):
    row, raw = await token_of(user)
    ws = await sockets()
    await ws.send_json_to({"type": "auth", "token": raw})
    assert await ws.receive_json_from(FRAME_TIMEOUT) == auth_ok(user)

    await sync_to_async(personal_token_revoke)(token=row)

    assert await ws.receive_output(FRAME_TIMEOUT) == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
async def test_a_socket_whose_revocation_message_was_lost_closes_at_the_hubs_next_check(sockets, user):
    row, raw = await token_of(user)
    ws = await sockets()
    await ws.send_json_to({"type": "auth", "token": raw})
    assert await ws.receive_json_from(FRAME_TIMEOUT) == auth_ok(user)

    await sync_to_async(PersonalAccessToken.objects.filter(pk=row.pk).delete)()  # no message sent
    await ProjectHub.current().check()

    assert await ws.receive_output(FRAME_TIMEOUT) == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
async def test_a_socket_closes_4401_when_its_token_expires(sockets, user):
    _, raw = await token_of(user, expires_at=timezone.now() + timedelta(seconds=1))
    ws = await sockets()
    await ws.send_json_to({"type": "auth", "token": raw})
    assert await ws.receive_json_from(FRAME_TIMEOUT) == auth_ok(user)

    assert await ws.receive_output(FRAME_TIMEOUT) == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
async def test_a_revoked_or_unknown_token_is_refused_at_sign_in(sockets, user):
    row, raw = await token_of(user)
    await sync_to_async(PersonalAccessToken.objects.filter(pk=row.pk).delete)()
    for token in (raw, "tfp_nothing"):
        ws = await sockets()
        await ws.send_json_to({"type": "auth", "token": token})
        assert await ws.receive_output(FRAME_TIMEOUT) == {"type": "websocket.close", "code": 4401}


def test_other_users_projects_stay_404_to_a_token(client, project):
    stranger_project = services.project_create(actor=UserFactory(), name="Theirs")
    bot = bearer(make_token(client)["token"])
    assert bot.get(f"/api/projects/{stranger_project.pk}/").status_code == 404
