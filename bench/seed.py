"""Fill the configured database with the benchmark dataset (through the services, events included).

    DATABASE_URL=mysql://root@127.0.0.1:3306/taskflow_bench python bench/seed.py [--users 50] [--tasks 10000]

Users bench0..bench{N-1} (password --password), project "bench" owned by bench0 with every bench
user a member (bench1 admin, the rest members) and --tasks tasks; and a project of "outsider"
with 1,000 tasks that no bench user can see. The same shape as the FastAPI anchor's seed, so both
serve the same data. With --spread N, also N projects "spread-1".. of --spread-tasks tasks each with
every bench user a member (bench1 admin): writes spread over many projects, which the anchor's seed
has no counterpart of. Prints `project=<id>`, then `spread=<id>,<id>,...` if asked. Expects an
empty, migrated database.
"""

import argparse
import os
import random
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskflow.settings")

import django

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from tasks import services  # noqa: E402
from tasks.models import Priority, Role, Status  # noqa: E402

LABELS = ["bug", "feature", "ui", "backend", "docs", "infra", "customer"]
DESCRIPTION = (
    "Investigate the reported behaviour, write down the steps to reproduce it, agree on the "
    "expected result with the reporter and link the pull request that fixes it."
)


def fill(project, *, count: int, member_ids: list[int], actor, rng: random.Random) -> None:
    now = timezone.now()
    for index in range(count):
        status = rng.choice(Status.values)
        data = {
            "title": f"Task {index + 1}: {rng.choice(['Fix', 'Add', 'Review', 'Document'])} item {index}",
            "description": DESCRIPTION,
            "status": status,
            "priority": rng.choice(Priority.values),
            "assignee": rng.choice([*member_ids, None]),
            "due_at": now + timedelta(days=rng.randint(1, 60)) if rng.random() < 0.7 else None,
            "labels": rng.sample(LABELS, rng.randint(0, 3)),
            "position": float(index),
        }
        services.task_create(project=project, actor=actor, data=data, operator=True)


def members(project, users) -> None:
    """Every bench user a member of the project its owner users[0] made: bench1 admin, the rest members."""
    for index, user in enumerate(users[1:], start=1):
        role = Role.ADMIN if index == 1 else Role.MEMBER
        services.member_add(project=project, actor=users[0], user=user.pk, role=role, operator=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--password", default="bench-pass")
    parser.add_argument("--spread", type=int, default=0, help="how many more projects to spread writes over")
    parser.add_argument("--spread-tasks", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(42)
    password = make_password(args.password)  # hashed once: the same hash serves every bench user

    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(username=f"bench{i}", email=f"bench{i}@example.com", password=password) for i in range(args.users)]
        )
        users = list(User.objects.filter(username__startswith="bench").order_by("id"))
        owner = users[0]
        project = services.project_create(actor=owner, name="bench")
        members(project, users)
        fill(project, count=args.tasks, member_ids=[user.pk for user in users], actor=owner, rng=rng)
        spread = []
        for number in range(1, args.spread + 1):
            spread.append(services.project_create(actor=owner, name=f"spread-{number}"))
            members(spread[-1], users)
            fill(spread[-1], count=args.spread_tasks, member_ids=[user.pk for user in users], actor=owner, rng=rng)

        outsider = User.objects.create(username="outsider", email="outsider@example.com", password=password)
        hidden = services.project_create(actor=outsider, name="hidden")
        fill(hidden, count=1000, member_ids=[outsider.pk], actor=outsider, rng=rng)
    print(f"project={project.pk}")
    if spread:
        print("spread=" + ",".join(str(each.pk) for each in spread))


if __name__ == "__main__":
    main()
