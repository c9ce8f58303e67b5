"""Realtime: the ordered event log, its publication on commit, and the WebSocket stream."""
