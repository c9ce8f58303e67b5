"""TaskFlow: team task management with live updates."""
