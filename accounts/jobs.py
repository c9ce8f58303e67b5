"""Background jobs of accounts: the password reset email, and the pruning of idempotency keys.

A reset request only enqueues `password_reset_send` with the address it was given (accounts.api):
the request does the same work whether an account has that address or not, so neither its answer
nor its timing tells. The job looks the address up and makes the token when it sends it, so the
token is in no row, job argument or log.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task
from django.utils import timezone

from accounts.idempotency import RETENTION
from accounts.models import IdempotentRequest
from accounts.password_reset import password_reset_token, password_reset_uid, password_reset_users

logger = logging.getLogger(__name__)


@task
def password_reset_send(email: str) -> None:
    """Email a reset `uid` and `token` to the account with this address, if there is one."""
    for user in password_reset_users(email):
        hours = settings.PASSWORD_RESET_TIMEOUT // 3600
        try:
            send_mail(
                subject="Reset your TaskFlow password",
                message=(
                    f"Hello {user.get_username()},\n\n"
                    f"Someone asked to reset the password of your TaskFlow account. To choose a new one, send\n"
                    f"POST /api/auth/password/reset/confirm/ with these values and your new password as\n"
                    f"`new_password`:\n\n"
                    f"    uid: {password_reset_uid(user)}\n"
                    f"    token: {password_reset_token(user)}\n\n"
                    f"They work once, for {hours} hours. Every session of yours ends when the password changes.\n"
                    f"If you did not ask for this, ignore this message: your password stays as it is.\n\n-- TaskFlow"
                ),
                from_email=None,
                recipient_list=[user.email],
            )
        except Exception as error:
            # The error's class and text only: a mail server's error names the recipient, never the body.
            logger.error("Could not email the password reset of user %s: %s: %s", user.pk, type(error).__name__, error)


@task
def idempotent_requests_prune() -> int:
    """Delete the idempotency keys and kept answers older than accounts.idempotency.RETENTION (24
    hours; a repeat after that runs anew); periodic (operations.periodic). Returns how many went."""
    return IdempotentRequest.objects.filter(created_at__lt=timezone.now() - RETENTION).delete()[0]
