"""TaskFlow's settings for the servers a test starts in a process of its own: the usual ones, with
the fast password hasher the in-process tests use (conftest.py). A fuzzer's logins and password
changes each cost a PBKDF2 hash otherwise, most of such a test's time."""

from taskflow.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
