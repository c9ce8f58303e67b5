"""The TaskFlow user: Django's user with an e-mail address that is required and unique, and a
username of ASCII letters, digits and @/./+/-/_."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.auth.validators import ASCIIUsernameValidator
from django.db import models
from django.utils import timezone


class UsernameValidator(ASCIIUsernameValidator):
    """Django's ASCII username rule, with the ASCII classes written out: the OpenAPI schema carries
    this regex as the username's pattern, and `\\w` is ASCII in some regex engines, not in others."""

    regex = r"^[A-Za-z0-9_.@+-]+\Z"


class User(AbstractUser):
    # ASCII only, so that the schema's pattern says exactly what is taken. Django's default takes
    # letters of any script, and saves them NFKC-normalized, sometimes into what it would refuse.
    username_validator = UsernameValidator()
    username = models.CharField(
        "username",
        max_length=150,
        unique=True,
        help_text="Required. 150 characters or fewer. ASCII letters, digits and @/./+/-/_ only.",
        validators=[username_validator],
        error_messages={"unique": "A user with that username already exists."},
    )
    email = models.EmailField("email address", unique=True)
    # Whether notifications (assignments, mentions, due dates) are also sent by email; they always
    # reach the user's sockets and the notification list.
    email_notifications = models.BooleanField(default=True)

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["id"]


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"


# Personal access tokens: the prefix every token starts with (so that scanners can spot leaked ones).
PERSONAL_TOKEN_PREFIX = "tfp_"


class PersonalAccessToken(models.Model):
    """A long-lived token of a user's for bots and scripts: `Authorization: Bearer tfp_...`.

    Only the SHA-256 of the token is stored (`key_hash`): the token itself is shown once, when it
    is made (accounts.services.personal_token_create). Deleting the row revokes it at once.
    `last_used_at` is written at most once a minute, not on every request.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="personal_tokens")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=5, choices=TokenScope.choices)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["user_id", "-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(scope__in=TokenScope.values), name="personal_token_scope_valid")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.scope}) of {self.user_id}"


class IdempotentRequest(models.Model):
    """A write a user sent with an `Idempotency-Key`, and, once it ran, the answer it got: what a
    repeat of the same request is answered with for 24 hours (accounts.idempotency).

    A row is inserted in the request's own transaction before the request runs, and holds its
    answer when that transaction commits: so the write and its kept answer commit together or not
    at all, and no other transaction sees a row before its request ended. Keys are identified by their SHA-256
    (`key_digest`), not by the key itself: MySQL compares text ignoring case, and keys are
    case-sensitive. `body_digest` is a keyed digest of the request's body
    (taskflow.http.body_digest); the body itself is never kept.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    key_digest = models.CharField(max_length=64, editable=False)
    method = models.CharField(max_length=7)
    # With the query string: a repeat must name exactly the same target.
    path = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    body_digest = models.CharField(max_length=64, blank=True)
    # Null only while the request runs, which no other transaction sees.
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    # [[name, value], ...]: the headers of the answer that a replay repeats.
    headers = models.JSONField(default=list, blank=True)
    body = models.BinaryField(default=b"", blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key_digest"], name="idempotent_request_key_unique"),
        ]
        # The prune deletes by age.
        indexes = [models.Index(fields=["created_at"], name="idempotent_request_created")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key}) of {self.user_id}"
