"""The event catalogue is complete, unambiguous, and what docs/events.md says."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from realtime.catalogue import CATALOGUE, catalogue_markdown, event_kind_of
from realtime.models import EventType
from tasks.signals import Change, member_changed, project_changed, task_changed


def test_every_event_type_is_in_the_catalogue_once():
    assert sorted(kind.type for kind in CATALOGUE) == sorted(EventType)


def test_each_domain_change_records_exactly_one_type():
    changes = [(kind.signal, kind.change) for kind in CATALOGUE]
    assert len(changes) == len(set(changes))
    assert event_kind_of(task_changed, Change.DELETED).type == EventType.TASK_DELETED
    assert event_kind_of(member_changed, Change.CREATED).type == EventType.MEMBER_ADDED


def test_a_project_is_never_recorded_as_created_or_deleted():
    # A new project's first event is its owner's membership; a deleted one takes its log along.
    with pytest.raises(KeyError):
        event_kind_of(project_changed, Change.CREATED)
    with pytest.raises(KeyError):
        event_kind_of(project_changed, Change.DELETED)


def test_the_history_keeps_every_kind_the_contract_lists():
    # Activity `kind`s are the API's: every task, comment, attachment and member change.
    assert {kind.type.value for kind in CATALOGUE if kind.history} == {
        "task.created",
        "task.updated",
        "task.deleted",
        "comment.created",
        "comment.updated",
        "comment.deleted",
        "attachment.added",
        "attachment.removed",
        "member.added",
        "member.updated",
        "member.removed",
    }


def test_docs_events_md_is_what_the_catalogue_generates():
    call_command("events_doc", "--check")  # raises CommandError when docs/events.md is stale


def test_the_check_fails_when_the_docs_are_stale(tmp_path, monkeypatch):
    from realtime.management.commands import events_doc

    stale = tmp_path / "events.md"
    stale.write_text(catalogue_markdown().replace("task.deleted", "task.removed"))
    monkeypatch.setattr(events_doc, "EVENTS_DOC", stale)
    with pytest.raises(CommandError, match="differs from the event catalogue"):
        call_command("events_doc", "--check")


def test_every_payload_field_is_documented():
    text = catalogue_markdown()
    for kind in CATALOGUE:
        assert f"`{kind.type.value}`" in text
        for field in kind.payload.__annotations__:
            assert f"| `{field}` |" in text
