"""Accounts: the user model, registration, JWT sessions and the caller's profile."""
