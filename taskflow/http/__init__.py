"""TaskFlow's HTTP plumbing: where it leans on Django's, DRF's and the servers' internals, and why.

The threaded ASGI handler, the middleware that stands aside for bearer requests, content
negotiation, pagination, the bounded JSON parser, and the pieces of Daphne and uvicorn that
TaskFlow's server processes change. Each module's docstring says which internals it
relies on and why; taskflow/tests/test_server_internals.py and the tests of each module fail when
one of them changes, in both test passes.
"""
