"""The board: TaskFlow's own page for people, a live board of a project's tasks in the browser."""
