"""How large a request body may be: one bound for every request, a larger one for uploads.

Both servers hold a body to this while it arrives (taskflow.http.handlers under uvicorn,
taskflow.http.daphne_body_limit under Daphne), before Django sees the request. A JSON body may have
TASKFLOW_MAX_BODY_BYTES; a request to an upload route (TASKFLOW_UPLOAD_PATHS, regular expressions
of paths) may carry a file of TASKFLOW_MAX_UPLOAD_BYTES, with room for the multipart framing around
it. The file itself is held to TASKFLOW_MAX_UPLOAD_BYTES exactly by the upload's handler.
"""

import re
from functools import lru_cache

from django.conf import settings

# A multipart body's boundaries, part headers and small form fields, beyond the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@lru_cache(maxsize=1)
def _upload_paths(patterns: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns) or r"(?!)")


def body_limit(path: str) -> int:
    """The largest body, in bytes, that a request to `path` (without its query) may have."""
    if _upload_paths(tuple(settings.TASKFLOW_UPLOAD_PATHS)).fullmatch(path):
        return max(settings.TASKFLOW_MAX_BODY_BYTES, settings.TASKFLOW_MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES)
    return settings.TASKFLOW_MAX_BODY_BYTES
