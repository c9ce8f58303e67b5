"""`python -m taskflow_client follow ...`: follow a project and print one line per change.

    python -m taskflow_client follow --url http://127.0.0.1:8000 --username demo-member --project 1
    python -m taskflow_client follow --token tfp_... --project 1 --status todo,in_progress

The password comes from --password or the environment's TASKFLOW_PASSWORD, a token from --token
or TASKFLOW_TOKEN (so that neither has to be typed where the shell history keeps it).
"""

import argparse
import asyncio
import logging
import os
import sys

from taskflow_client.follow import follow
from taskflow_client.http import ApiError, Client
from taskflow_client.mirror import ProjectMirror


def _assignee(value: str) -> int | str:
    if value == "me":
        return value
    if value.isascii() and value.isdigit():
        return int(value)
    raise argparse.ArgumentTypeError('a user id or "me"')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taskflow_client", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("follow", help="keep a copy of a project in sync and print each change")
    command.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default: %(default)s)")
    command.add_argument("--username")
    command.add_argument("--password", default=os.environ.get("TASKFLOW_PASSWORD"))
    command.add_argument("--token", default=os.environ.get("TASKFLOW_TOKEN"), help="an access or personal token")
    command.add_argument("--project", type=int, required=True)
    command.add_argument("--assignee", type=_assignee, help='only tasks of this user id, or "me"')
    command.add_argument("--status", help="only tasks in these statuses (comma-separated)")
    command.add_argument("--labels", help="only tasks with any of these labels (comma-separated)")
    args = parser.parse_args(argv)

    if args.username and args.password:
        client = Client(args.url, username=args.username, password=args.password)
    elif args.token:
        client = Client(args.url, token=args.token)
    else:
        parser.error("give --username with --password (or TASKFLOW_PASSWORD), or --token (or TASKFLOW_TOKEN)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    view = {}
    if args.assignee:
        view["assignee"] = args.assignee
    for name, value in (("status", args.status), ("labels", args.labels)):
        if value:
            view[name] = [item.strip() for item in value.split(",") if item.strip()]
    mirror = ProjectMirror(filter=view or None)

    def show(mirror: ProjectMirror, frame: dict) -> None:
        print(f"seq {frame['seq']:>5} {frame['event']:<18} tasks: {len(mirror.tasks)}, members: {len(mirror.members)}")

    try:
        asyncio.run(follow(client, mirror, args.project, on_event=show))
    except KeyboardInterrupt:
        return 0
    except (ApiError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Project {args.project} is not visible to you (anymore): no such project, or not a member.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
