"""Tasks: projects, their members and roles, tasks and labels."""
