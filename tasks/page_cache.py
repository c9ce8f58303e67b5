"""Pages of one project's task list, cached under the project's event seq.

The invariant this relies on: every visible change to a task moves its `version` and its
project's event seq, and every visible change to a project or its members moves the seq. Every
write to them is a service of tasks.services that sends a domain signal (whose event takes the next
seq), and a user's deletion changes their memberships and tasks through those services first
(accounts.receivers). tasks/tests/test_cache_invariant.py checks it for every service.

Every change to a project's tasks and members is an event that moves the project's seq, so a page
computed at seq S stays true while the seq is S: the key carries the seq, nothing is ever
invalidated, and keys of past seqs simply expire. A page is the same for every member of the
project (access is checked before the cache is read), except with `assignee=me`, whose key also
names the caller. The results are kept as rendered JSON and spliced into each response. Pages live
in the configured cache (Redis, shared by every server process, or local memory); a cache that is
down only costs the queries it would have saved. With Redis, each process also keeps the pages it
served last in its own memory (the `task-pages` cache): a page never changes under its key, so
that copy is as true as the shared one, and serving it costs no round trip.

A single task's JSON is kept the same way in each process, under its id and version: every change
to a task bumps its version (the version is the task's ETag), so the JSON of a version never
changes. The task's row is still read, for access and the version, on every request.
"""

import hashlib
import json

from django.core.cache import cache, caches
from django.http import QueryDict
from django.utils import timezone

# Long enough to serve a busy project's readers between changes; short enough to bound memory.
PAGE_CACHE_SECONDS = 300


def task_page_key(*, project_id: int, event_seq: int, query: QueryDict, user_id: int) -> str:
    """The cache key of a list page: project, seq, and the query in a canonical order."""
    params = sorted((name, value) for name, values in query.lists() for value in values)
    caller = user_id if "assignee" in query else None
    digest = hashlib.blake2b(repr((params, caller)).encode(), digest_size=12).hexdigest()
    return f"tasks:page:{project_id}:{event_seq}:{digest}"


def task_page_etag(key: str) -> str:
    """The page's entity tag, weak: links in the body follow the host the client asked."""
    _, _, project_id, event_seq, digest = key.split(":")
    return f'W/"{project_id}.{event_seq}.{digest}"'


# How long a process keeps its own copy of a page (the shared cache keeps it PAGE_CACHE_SECONDS).
LOCAL_PAGE_SECONDS = 60


def _local():
    """The process's own page cache, when there is one besides the shared cache."""
    return caches["task-pages"] if "task-pages" in caches.settings else None


def task_page_get(key: str) -> dict | None:
    local = _local()
    page = local.get(key) if local is not None else None
    if page is None:
        page = cache.get(key)
        if page is not None and local is not None:
            local.set(key, page, LOCAL_PAGE_SECONDS)
    return page


def task_page_set(key: str, page: dict) -> None:
    cache.set(key, page, PAGE_CACHE_SECONDS)
    local = _local()
    if local is not None:
        local.set(key, page, LOCAL_PAGE_SECONDS)


def task_page_body(paginator, results: bytes) -> bytes:
    """The JSON of a page, `{next, previous, results}` as DRF renders it, around rendered results."""
    links = {"next": paginator.get_next_link(), "previous": paginator.get_previous_link()}
    head = json.dumps(links, ensure_ascii=False, separators=(",", ":"))[:-1].encode()
    return head + b',"results":' + results + b"}"


def _task_body_key(task_id: int, version: int) -> str:
    # The JSON shows times in the current time zone.
    return f"tasks:task:{task_id}:{version}:{timezone.get_current_timezone_name()}"


def task_body_get(task_id: int, version: int) -> bytes | None:
    """The rendered JSON of this version of a task, if this process has it."""
    return (_local() or cache).get(_task_body_key(task_id, version))


def task_body_set(task_id: int, version: int, body: bytes) -> None:
    (_local() or cache).set(_task_body_key(task_id, version), body, LOCAL_PAGE_SECONDS)
