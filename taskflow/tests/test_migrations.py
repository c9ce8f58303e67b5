"""The migrations describe the models exactly: a model change without its migration fails here,
before a deployment's `manage.py migrate` would silently leave the database behind the code."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db  # makemigrations checks the applied migrations' history too
def test_every_model_change_has_its_migration():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit_:
        raise AssertionError(f"models and migrations differ:\n{out.getvalue()}") from exit_
