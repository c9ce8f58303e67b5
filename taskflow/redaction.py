"""Secrets kept out of the logs: a filter that redacts tokens, passwords and Authorization values.

Every handler of TaskFlow's log configuration has it (settings.logging_config), so it covers any
logger that reaches those handlers: TaskFlow's own, Django's, Daphne's and uvicorn's. It replaces
with `[redacted]`:

- JWTs (three base64url segments, the first starting with `eyJ`), wherever they appear;
- the credentials after `Bearer`, and the value of anything written `Authorization: ...`;
- the value of any field whose name contains password, token, refresh, access, secret or
  authorization, whether in a dict (message, arguments or extra fields) or written as
  `name=value` or `"name": "value"` in text (a query string, a dict's repr).

The message is formatted with its arguments before redaction and logged as that text, and a
traceback is kept as redacted text (`exc_text`), not as the live exception.
"""

import logging
import re
from collections.abc import Mapping

REDACTED = "[redacted]"

SECRET_NAMES = ("password", "token", "refresh", "access", "secret", "authorization")

_SECRET_NAME = re.compile("|".join(SECRET_NAMES), re.IGNORECASE)

# `name=value`, `name: value`, `'name': 'value'`, `"name": "value"` where the name is a secret's.
# A value is a quoted string (escapes allowed), an `Authorization` scheme with its credentials, or
# a bare word; `[redacted]` itself is left alone, so that redacting twice changes nothing.
_SECRET_ASSIGNMENT = re.compile(
    r"""
    (?P<name>\b[\w-]{0,40}?(?:password|token|refresh|access|secret|authorization)[\w-]{0,40})
    (?P<separator>["']?\s*[:=]\s*)
    (?:
        (?P<quote>["'])(?:\\.|(?!(?P=quote)).)*(?P=quote)
      | (?:bearer|basic|digest|token|jwt)\s+(?:\[redacted\]|[^\s"'&,;)}\]]+)
      | (?!\[redacted\])[^\s"'&,;)}\]]+
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)
_BEARER = re.compile(r"\b(?P<scheme>bearer)\s+(?!\[redacted\])[^\s\"',;)}\]]+", re.IGNORECASE)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

# The attributes every LogRecord has: anything else on a record came in through `extra`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_PLAIN_VALUES = (int, float, bool, type(None))


def is_secret_name(name: str) -> bool:
    """True for a field name that holds a secret: `password`, `access_token`, `HTTP_AUTHORIZATION`, ..."""
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """The text with secret assignments, Bearer credentials and JWTs replaced by `[redacted]`."""

    def assignment(match: re.Match) -> str:
        quote = match["quote"] or ""
        return f"{match['name']}{match['separator']}{quote}{REDACTED}{quote}"

    text = _SECRET_ASSIGNMENT.sub(assignment, text)
    text = _BEARER.sub(lambda match: f"{match['scheme']} {REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def redact_value(value, *, name: str | None = None, keep_objects: bool = False):
    """A copy of `value` with its secrets redacted: dict fields by name, and text everywhere.

    Numbers, booleans and None stay as they are; other objects become their redacted text, unless
    `keep_objects` (message arguments, whose formatting is redacted afterwards).
    """
    if name is not None and is_secret_name(name):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, _PLAIN_VALUES):
        return value
    if isinstance(value, Mapping):
        return {key: redact_value(item, name=str(key), keep_objects=keep_objects) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [redact_value(item, keep_objects=keep_objects) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    if keep_objects:
        return value
    return redact_text(str(value))


class RedactSecretsFilter(logging.Filter):
    """Redacts the record's message, arguments, extra fields and traceback in place; drops nothing.

    In place, so that every handler after this one sees the redacted record too.
    """

    # The plain formatter that renders a traceback before it is redacted.
    _traceback_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_secrets_redacted", False):
            return True
        if isinstance(record.msg, Mapping):
            record.msg = redact_value(record.msg)
        else:
            record.args = redact_value(record.args, keep_objects=True)
            try:
                message = record.getMessage()
            except (TypeError, ValueError, KeyError):
                # Arguments that do not fit the message: the handler reports the error as usual.
                record.msg = redact_text(str(record.msg))
            else:
                record.msg, record.args = redact_text(message), ()
        for name in vars(record).keys() - _RECORD_ATTRIBUTES:
            if not name.startswith("_"):
                setattr(record, name, redact_value(getattr(record, name), name=name))
        if record.exc_info:
            record.exc_text = self._traceback_formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        record._secrets_redacted = True
        return True
