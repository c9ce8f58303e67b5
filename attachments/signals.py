"""The attachments app's domain signal: every write to an attachment sends it.

attachments.services sends it inside the writer's transaction, once the row is written (a
removal: just before), with keyword arguments as tasks.signals describes: `attachment`, `task`
(the task it is on, as locked by the write), `actor`,
`change` (tasks.signals.Change: CREATED for an upload, DELETED for a removal), `payload`
(AttachmentPayload; for a removal, the attachment as it was) and `previous` (None on creation).
"""

from django.dispatch import Signal

# sender=Attachment; attachment, task, actor, change, payload, previous.
attachment_changed = Signal()
