"""`manage.py seed_demo`: a demo project with a few users and tasks in every status."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from tasks import services
from tasks.models import Membership, Project, Role, Status

DEMO_PASSWORD = "taskflow-demo"
DEMO_PROJECT = "TaskFlow demo"
DEMO_OPERATOR = "demo-operator"
DEMO_USERS = [
    ("demo-owner", Role.OWNER),
    ("demo-admin", Role.ADMIN),
    ("demo-member", Role.MEMBER),
    ("demo-viewer", Role.VIEWER),
]
DEMO_TASKS = [
    {"title": "Sketch the board layout", "status": Status.DONE, "priority": 2, "labels": ["design"]},
    {"title": "Write the onboarding guide", "status": Status.IN_PROGRESS, "priority": 3, "labels": ["docs"]},
    {"title": "Fix login on slow networks", "status": Status.TODO, "priority": 4, "labels": ["bug", "auth"]},
    {"title": "Plan the release party", "status": Status.TODO, "priority": 1, "labels": []},
    {"title": "Evaluate the old tracker import", "status": Status.CANCELLED, "priority": 2, "labels": ["idea"]},
]


class Command(BaseCommand):
    help = (
        "Create demo data: users demo-owner, demo-admin, demo-member and demo-viewer, an admin-site "
        f"superuser demo-operator (password '{DEMO_PASSWORD}' for all) and a project '{DEMO_PROJECT}' "
        "with tasks in every status. "
        "Running it again changes nothing. Refuses to run in production mode."
    )

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo creates users with a known password; it does not run in production mode.")
        with transaction.atomic():
            users = {username: self._user(username) for username, _ in DEMO_USERS}
            self._user(DEMO_OPERATOR, operator=True)
            owner = users["demo-owner"]
            project = Project.objects.filter(name=DEMO_PROJECT, owner=owner).first()
            if project is None:
                project = services.project_create(
                    actor=owner, name=DEMO_PROJECT, description="A project to try TaskFlow with."
                )
                self._fill(project, users)
        self.stdout.write(self.style.SUCCESS(f"Demo project '{DEMO_PROJECT}' (id {project.pk}) is ready."))
        self.stdout.write(f"Demo logins (password '{DEMO_PASSWORD}'):")
        for username, role in DEMO_USERS:
            self.stdout.write(f"  {username:<14} {role} of the demo project")
        self.stdout.write(f"  {DEMO_OPERATOR:<14} superuser for the admin site (/admin/)")

    def _user(self, username: str, *, operator: bool = False) -> User:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@example.com", "is_staff": operator, "is_superuser": operator},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

    def _fill(self, project: Project, users: dict[str, User]) -> None:
        owner = users["demo-owner"]
        for username, role in DEMO_USERS:
            if not Membership.objects.filter(project=project, user=users[username]).exists():
                services.member_add(project=project, actor=owner, user=users[username].pk, role=role, operator=True)
        now = timezone.now()
        assignees = [users["demo-member"], users["demo-admin"], None]
        for index, task in enumerate(DEMO_TASKS):
            assignee = assignees[index % len(assignees)]
            data = {
                **task,
                "assignee": assignee.pk if assignee else None,
                "due_at": now + timedelta(days=index + 1),
            }
            services.task_create(project=project, actor=owner, data=data, operator=True)
