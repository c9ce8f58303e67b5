"""A client's mistake is logged as a warning without a traceback, whoever logs it.

Its own module, with nothing but the logging module imported: the log configuration loads it
before Django's apps are ready.
"""

import logging


class ClientErrorsAreWarnings(logging.Filter):
    """A log record about a 4xx response is a warning without a traceback.

    Django logs the `SuspiciousOperation`s it answers with 400 (a bad Host, too many form fields)
    at ERROR with their traceback, and some 403s and 400s with a traceback at WARNING: each is the
    client's mistake, and a traceback only hides the server's real errors. Django passes the
    response's `status_code` with each such record (django.utils.log.log_response). The record is
    copied, not changed, since other handlers see the same one.
    """

    def filter(self, record: logging.LogRecord) -> logging.LogRecord | bool:
        status_code = getattr(record, "status_code", None)
        if not isinstance(status_code, int) or not 400 <= status_code < 500:
            return True
        if record.levelno <= logging.WARNING and not record.exc_info:
            return True
        copy = logging.makeLogRecord(record.__dict__)
        copy.levelno = min(record.levelno, logging.WARNING)
        copy.levelname = logging.getLevelName(copy.levelno)
        copy.exc_info = copy.exc_text = None
        return copy
