"""The accounts app's domain signals, sent by accounts.services inside the writer's transaction.

`user_deleting`: a user account is about to be deleted (keyword arguments `user`, `actor`), by
accounts.services.user_delete or any other deletion the ORM makes (accounts.receivers). Apps whose
rows refer to the user receive it to change those rows the way their own writes do (with their
events), before the ORM's cascades and SET NULLs would change them silently.
"""

from django.dispatch import Signal

user_deleting = Signal()
