"""Batches of writes (`POST /api/batch/`): commands applied in order in one transaction, all or nothing."""
