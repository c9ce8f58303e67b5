"""The example client of docs/realtime.md, imported by the tests that prove it right."""

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "docs" / "examples" / "taskflow_sync.py"
_spec = importlib.util.spec_from_file_location("taskflow_sync", _PATH)
taskflow_sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(taskflow_sync)
