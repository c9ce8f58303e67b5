"""Fixtures every test uses: users, API clients signed in with JWT, and a project."""

import copy
import itertools
import os
import uuid

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.factories import UserFactory
from operations.tests.jobs import jobs_run
from tasks import services

# The WebSocket fixtures (`sockets`, `signed_in`) for every test that needs them.
pytest_plugins = ["realtime.tests.websocket"]

_client_ips = itertools.count(1)


@pytest.fixture(autouse=True)
def _generous_auth_rate(settings):
    """The suite logs in far more often than a person; throttling tests set their own rate."""
    settings.TASKFLOW_AUTH_RATE = "100000/min"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Nearly every test hashes a password; the default PBKDF2 takes seconds a hash on a busy machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _cache_of_this_test(settings):
    """Keys of this test's own in the cache: ids and seqs repeat between tests (and between the
    parallel workers sharing one Redis), so cached task pages must not meet across them."""
    caches = copy.deepcopy(settings.CACHES)
    prefix = f"test-{uuid.uuid4().hex}"
    for alias in caches.values():
        alias["KEY_PREFIX"] = prefix
    settings.CACHES = caches


@pytest.fixture(autouse=True)
def _media_of_this_test(settings, tmp_path):
    """Uploaded files in this test's own folder, on the local file system (tests of S3 set their own)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": settings.MEDIA_ROOT},
        },
    }


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous client with an address of its own, so rate limits never leak between tests."""
    index = next(_client_ips)
    return APIClient(REMOTE_ADDR=f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}")


@pytest.fixture
def client_for():
    """`client_for(user)`: a client that sends `Authorization: Bearer <access>` for that user."""

    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return make


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def client(client_for, user) -> APIClient:
    """Signed in as `user`."""
    return client_for(user)


@pytest.fixture
def project(user):
    """A project owned by `user`."""
    return services.project_create(actor=user, name="Launch")


@pytest.fixture
def add_member(project):
    """`add_member(role="member", project=project)`: a new user with that role in the project."""

    def add(role: str = "member", in_project=None):
        target = in_project or project
        member = UserFactory()
        services.member_add(project=target, actor=target.owner, user=member.pk, role=role, operator=True)
        return member

    return add


@pytest.fixture(scope="module")
def embedded_taskflow(tmp_path_factory):
    """TaskFlow served as `make run` serves it (realtime.tests.servers.EmbeddedTaskFlow), one per
    test module, on a SQLite file of its own whichever database the suite runs on."""
    from realtime.tests.servers import EmbeddedTaskFlow

    server = EmbeddedTaskFlow(tmp_path_factory.mktemp("embedded"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def servers_database(request, tmp_path_factory) -> dict[str, str]:
    """Where the server processes a test module starts keep their data, as TaskFlowServer's
    `database_url` and `redis_url`: in the MySQL + Redis pass the test database (its tests need
    `django_db(transaction=True)`, so that what they write is committed) and Redis; in the
    embedded pass a migrated SQLite file of the module's, and no Redis (each process then has its
    own in-memory channel layer, and learns of the others' events from the log)."""
    from django.db import connection

    from realtime.tests.servers import migrated_sqlite_url, shared_database_url

    if connection.vendor == "mysql":
        request.getfixturevalue("django_db_setup")
        return {"database_url": shared_database_url(), "redis_url": os.environ.get("REDIS_URL", "")}
    return {"database_url": migrated_sqlite_url(tmp_path_factory.mktemp("servers")), "redis_url": ""}


@pytest.fixture
def run_jobs(db):
    """`run_jobs(due_by=None)`: run the background jobs that are due, as `manage.py worker` would."""
    return jobs_run
