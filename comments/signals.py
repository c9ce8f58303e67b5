"""The comments app's domain signal: every write to a comment sends it.

comments.services sends it inside the writer's transaction, once the row is written (a deletion:
just before), with keyword arguments as tasks.signals describes: `comment`, `task` (the task it
is on, as locked by the write), `actor`, `change`
(tasks.signals.Change), `payload` (CommentPayload; for a deletion, the comment as it was),
`previous` (the comment before the change; None on creation), and `mentioned`: the ids of the
members this save mentions for the first time (to be notified; never the author).
"""

from django.dispatch import Signal

# sender=Comment; comment, task, actor, change, payload, previous, mentioned.
comment_changed = Signal()
