"""Idempotency keys are claimed inside their request's transaction: no row is `running` any more,
so the claim's columns go. Rows left `running` by the previous design were claims of requests
that never finished; they are deleted, so that their keys can be sent again."""

from django.db import migrations


def running_claims_delete(apps, schema_editor):
    apps.get_model("accounts", "IdempotentRequest").objects.filter(state="running").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_idempotent_requests"),
    ]

    operations = [
        migrations.RunPython(running_claims_delete, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="idempotentrequest", name="idempotent_request_state_valid"),
        migrations.RemoveConstraint(model_name="idempotentrequest", name="idempotent_request_done_has_status"),
        migrations.RemoveField(model_name="idempotentrequest", name="state"),
        migrations.RemoveField(model_name="idempotentrequest", name="claim_token"),
        migrations.RemoveField(model_name="idempotentrequest", name="claimed_at"),
    ]
