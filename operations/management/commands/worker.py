"""`manage.py worker`: run background jobs (reminders, webhook deliveries, periodic pruning)."""

from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from operations.periodic import PERIODIC_JOBS, periodic_schedule_all


class Command(DatabaseWorkerCommand):
    help = (
        "Run TaskFlow's background worker: it takes jobs from the database (django-tasks-db's "
        "db_worker, whose options it has) and first makes sure the periodic jobs are scheduled ("
        + ", ".join(f"{path.rsplit('.', 1)[1]} every {every}" for path, every in PERIODIC_JOBS.items())
        + "). Run as many as the load needs: each job runs once, on one worker. Stop with SIGTERM: "
        "the job in progress finishes first."
    )

    def handle(self, *args, **options):
        self.configure_logging(options["verbosity"])
        for path in periodic_schedule_all():
            self.stdout.write(f"Scheduled the periodic job {path}.")
        super().handle(*args, **options)
