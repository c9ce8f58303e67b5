"""TaskFlow's database plumbing, where it leans on Django's internals: the MySQL backend with fewer
round trips (`mysql/`) and the hot statements written out by hand (`rows.py`).

Each says why in its docstring; taskflow/tests/test_database.py has tripwire tests that run in
both test passes (the Django hooks they override still exist and are still called; the
hand-written INSERT and UPDATE write what save() would).
"""
