"""The email that carries an invitation's one-time token to the address invited.

It is sent once the invitation commits (tasks.services.invitation_create registers it with
`transaction.on_commit`), from the token held in memory: the token is never stored, not even in a
background job's arguments, so it cannot be sent again later. A failed send is logged (without the
token) and not retried: the inviter sees the invitation pending, and can revoke it and invite again.
"""

import logging

from django.core.mail import send_mail
from django.utils import timezone

from tasks.models import Invitation, Project

logger = logging.getLogger(__name__)

_AS_ROLE = {"admin": "an admin", "member": "a member", "viewer": "a viewer"}


def invitation_email_send(*, invitation: Invitation, project: Project, inviter_name: str, token: str) -> bool:
    """Email `token` to the invited address; True when it went out. Never raises, never logs the token."""
    expires = timezone.localtime(invitation.expires_at).strftime("%Y-%m-%d %H:%M %Z")
    try:
        send_mail(
            subject=f'{inviter_name} invited you to "{project.name}" on TaskFlow',
            message=(
                f"Hello,\n\n"
                f'{inviter_name} invited you to join the project "{project.name}" on TaskFlow '
                f"as {_AS_ROLE.get(invitation.role, invitation.role)}.\n\n"
                f"Your invitation token (it works once, until {expires}):\n\n"
                f"    {token}\n\n"
                f"Signed in, accept it with POST /api/invitations/accept/ and the body "
                f'{{"token": "<the token>"}}.\n'
                f"No account yet? Register with POST /api/auth/register/ and the token as `invitation`.\n\n"
                f"If you did not expect this invitation, ignore this message.\n\n-- TaskFlow"
            ),
            from_email=None,
            recipient_list=[invitation.email],
        )
    except Exception as error:
        # The error's class and text only: a mail server's error names the recipient, never the body.
        logger.error("Could not email invitation %s: %s: %s", invitation.pk, type(error).__name__, error)
        return False
    return True
