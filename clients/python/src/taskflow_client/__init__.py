"""A TaskFlow client: a live copy of a project, and writes that survive being offline.

- `Client`: JSON over HTTP, signed in with a password (renewed by itself) or a token.
- `ProjectMirror` and `follow()`: a local copy of a project's details, members and tasks (all of
  them, or a filtered view), kept in sync over the WebSocket across disconnects and restarts.
- `WriteQueue`: writes queued in a SQLite file, each with its own Idempotency-Key, sent in order
  when the server can be reached, so that none is lost or carried out twice.
"""

from taskflow_client.follow import follow
from taskflow_client.http import ApiError, Client, Response, Unreachable
from taskflow_client.mirror import ProjectMirror
from taskflow_client.queue import QueuedWrite, SendReport, WriteQueue

__all__ = [
    "ApiError",
    "Client",
    "ProjectMirror",
    "QueuedWrite",
    "Response",
    "SendReport",
    "Unreachable",
    "WriteQueue",
    "follow",
]
