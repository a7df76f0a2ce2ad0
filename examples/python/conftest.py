"""Fixtures for the examples' end-to-end tests. The Switchboard node harness is the SDK suite's own."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# tests/support/switchboard_node.py of the Python SDK: start/stop real nodes with the CLI.
sys.path.insert(0, str(REPO_ROOT / "client" / "python"))
