"""`manage.py status`: the state of a running TaskFlow for an operator, or for a monitor (--json)."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from operations.selectors import system_status


class Command(BaseCommand):
    help = (
        "Show the state of the system: the event log (size, age, what retention will prune), "
        "background jobs (due, scheduled, running, failed; the worker's lag: how long the oldest "
        "due job has waited), reminders, webhook endpoints and deliveries, and the WebSockets "
        "each server process reports (with Redis only). With --max-lag, exit with status 1 when "
        "the worker is further behind than that: usable as a monitoring check."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print one JSON object instead of text."
        )
        parser.add_argument(
            "--max-lag",
            type=float,
            metavar="SECONDS",
            help="Fail (exit status 1) when the oldest due job has waited longer than this.",
        )
        parser.add_argument(
            "--failures", type=int, default=5, metavar="N", help="How many recent failed jobs to list (default 5)."
        )

    def handle(self, *args, as_json: bool = False, max_lag: float | None = None, failures: int = 5, **options):
        status = system_status(failures=failures)
        if as_json:
            self.stdout.write(json.dumps(status, cls=DjangoJSONEncoder, indent=2))
        else:
            self.stdout.write(self._text(status))
        lag = status["jobs"]["lag_seconds"]
        if max_lag is not None and lag > max_lag:
            raise CommandError(f"The worker is behind: the oldest due job has waited {lag:.0f} s (> {max_lag:g} s).")

    def _text(self, status: dict) -> str:
        events, jobs = status["events"], status["jobs"]
        reminders, webhooks, sockets = status["reminders"], status["webhooks"], status["sockets"]
        endpoints, deliveries = webhooks["endpoints"], webhooks["deliveries"]
        lines = [f"TaskFlow status at {_when(status['at'])}", ""]
        lines.append(f"Event log: {events['total']} events in {events['projects']} projects")
        if events["total"]:
            lines.append(f"  oldest {_when(events['oldest'])}, newest {_when(events['newest'])}")
        lines.append(
            f"  retention {events['retention_days']} days: {events['past_retention']} older events await the "
            "hourly prune"
        )
        lines += [
            "",
            f"Jobs: {jobs['due']} due, {jobs['scheduled']} scheduled, {jobs['running']} running; "
            f"last 24 h: {jobs['succeeded_recently']} succeeded, {jobs['failed_recently']} failed",
            f"  worker lag: {jobs['lag_seconds']:.1f} s (how long the oldest due job has waited)",
        ]
        if jobs["longest_running_since"]:
            lines.append(f"  running since {_when(jobs['longest_running_since'])} (the longest)")
        for path, run_after in sorted(jobs["next_runs"].items()):
            lines.append(f"  next {path}: {_when(run_after)}")
        if jobs["recent_failures"]:
            lines.append("  recent failures (details in the admin, Task Results):")
            for failure in jobs["recent_failures"]:
                lines.append(
                    f"    {_when(failure['finished_at'])} {failure['task']}: {failure['error']} ({failure['id']})"
                )
        lines += [
            "",
            f"Reminders: {reminders['pending']} pending ({reminders['overdue']} overdue by 5 min or more), "
            f"{reminders['sent_recently']} sent in the last 24 h, {reminders['failed']} failed",
            "",
            f"Webhooks: {endpoints['active']} active endpoints of {endpoints['total']}, "
            f"{endpoints['behind']} with events not yet dispatched",
            f"  deliveries: {deliveries['pending']} pending; last 24 h: "
            f"{deliveries['succeeded_recently']} succeeded, {deliveries['failed_recently']} failed",
            "",
        ]
        if sockets is None:
            lines.append("WebSockets: unknown (without REDIS_URL server processes share no cache to report in)")
        else:
            lines.append(f"WebSockets: {sockets['total']} signed in, over {len(sockets['processes'])} server processes")
            for process, report in sockets["processes"].items():
                lines.append(f"  {process}: {report['sockets']} sockets, {report['projects']} projects followed")
        return "\n".join(lines)


def _when(moment) -> str:
    if moment is None:
        return "-"
    if moment.year >= 9999:
        return "now"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")
