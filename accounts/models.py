"""The TaskFlow user: Django's user with an e-mail address that is required and unique, and a
username of ASCII letters, digits and @/./+/-/_."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.auth.validators import ASCIIUsernameValidator
from django.db import models


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

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["id"]
