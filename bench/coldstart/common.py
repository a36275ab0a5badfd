"""What every part of the harness shares: the paths it reads and writes, the fixed names of the
product configuration the functions get, the header that marks the harness's own requests,
the clock and the log line."""

from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "target" / "bench"
# Where cargo puts its builds (CI keeps it outside the clone).
CARGO_TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
LOGS = OUT / "logs"
CLIENT_ID = "bench-spa"
SECRET_ID = "spa-login/bench"
REDIRECT_URI = "http://localhost:5173/callback"
SESSION_ISSUER = "https://login.example.com"
SESSION_AUDIENCE = "https://api.example.com"
HARNESS_HEADER = "X-Bench-Harness"
INVOKE_TIMEOUT = 60.0

now = time.perf_counter


def log(msg: str) -> None:
    print(f"coldstart: {msg}", flush=True)
