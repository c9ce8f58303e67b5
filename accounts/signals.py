"""The accounts app's domain signals, sent by accounts.services inside the writer's transaction.

`user_deleting`: a user account is about to be deleted (keyword arguments `user`, `actor`), by
accounts.services.user_delete or any other deletion the ORM makes (accounts.receivers). Apps whose
rows refer to the user receive it to change those rows the way their own writes do (with their
events), before the ORM's cascades and SET NULLs would change them silently.

`personal_token_revoked`: a personal access token was revoked (keyword arguments `token`, the
row as it was, and `user_id`), sent in the revoking transaction: realtime closes the sockets
authenticated with it once that commits.

`user_sessions_ended`: a user's password changed (keyword argument `user_id`), in that
transaction: every session signed in with the old password is over, so realtime closes the
WebSockets signed in with a JWT once it commits (personal access tokens are revoked, or not, on
their own, with `personal_token_revoked`).

`user_registered`: a user account was made by registration (keyword arguments `user`, and
`invitation`: the invitation token the registration carried, or None), in its transaction. The
tasks app receives it to accept the invitation, and returns the membership it made: a receiver
that raises (a bad token) undoes the registration.
"""

from django.dispatch import Signal

user_deleting = Signal()
personal_token_revoked = Signal()
user_sessions_ended = Signal()
user_registered = Signal()
