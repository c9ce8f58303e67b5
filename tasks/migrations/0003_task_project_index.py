"""Give the tasks' project foreign key its own index, and make InnoDB use it for the key.

InnoDB checks the key (taking a shared lock on the project row) whenever an UPDATE writes to the
index it uses for the key, which is the first index starting with project_id. Until now that was
`task_project_status_position`, so every change of status or position locked the project. The
composite indexes are dropped and created again after `task_project`, one statement each, so that
`task_project` becomes the first, and only a change of project checks the key. Elsewhere (SQLite,
PostgreSQL) this only renames the key's index.
"""

from django.db import migrations, models

COMPOSITES = [
    models.Index(fields=["project", "position"], name="task_project_position"),
    models.Index(fields=["project", "status", "position"], name="task_project_status_position"),
    models.Index(fields=["project", "updated_at"], name="task_project_updated"),
    models.Index(fields=["project", "due_at"], name="task_project_due"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0002_task_project_position"),
    ]

    operations = [
        migrations.AddIndex(model_name="task", index=models.Index(fields=["project"], name="task_project")),
        migrations.AlterField(
            model_name="task",
            name="project",
            field=models.ForeignKey(
                db_index=False, on_delete=models.deletion.CASCADE, related_name="tasks", to="tasks.project"
            ),
        ),
        *[migrations.RemoveIndex(model_name="task", name=index.name) for index in COMPOSITES],
        *[migrations.AddIndex(model_name="task", index=index) for index in COMPOSITES],
    ]
