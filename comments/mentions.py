"""`@username` mentions in a comment's body, resolved to the members of the task's project."""

import re

from django.db.models.functions import Lower

from tasks.models import Membership

# A username's characters (ASCII: accounts.models), after an `@` that does not continue a word or
# an email address ("ada@example.com" mentions nobody), and not followed by a letter of any script
# (a member "jos" is not named by "@josé").
_MENTION = re.compile(r"(?<![\w.@+-])@([A-Za-z0-9_.@+-]+)(?!\w)")
# Names looked up per save, at most: a body of "@a @b @c ..." cannot make one query unbounded.
MENTIONS_MAX = 50
_TRAILING = ".@+-"


def mentioned_names(body: str) -> list[str]:
    """The names a body mentions, lower-cased, in order of first mention.

    A name written at the end of a sentence ("thanks @ada.") counts without the trailing
    punctuation too, since usernames may contain dots.
    """
    names: dict[str, None] = {}
    for match in _MENTION.finditer(body):
        name = match.group(1).lower()
        names[name] = None
        names[name.rstrip(_TRAILING)] = None
        if len(names) >= 2 * MENTIONS_MAX:
            break
    names.pop("", None)
    return list(names)


def mentions_resolve(*, project_id: int, body: str) -> list[int]:
    """Ids of the project's members that `body` names, in order of first mention; others are ignored."""
    names = mentioned_names(body)
    if not names:
        return []
    members = dict(
        Membership.objects.filter(project_id=project_id)
        .annotate(name=Lower("user__username"))
        .filter(name__in=names)
        .values_list("name", "user_id")
    )
    found: dict[int, None] = {}
    for name in names:
        if name in members:
            found[members[name]] = None
    return list(found)
