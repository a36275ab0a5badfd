"""A CPU quota of Lambda's size for every fresh process the harness starts (`--memory-mb 128`).

Lambda gives a function CPU in proportion to its memory, one full vCPU at 1,769 MB, so a 128 MB
function gets about 7.2% of one. The harness makes a cgroup with that quota (cgroup v2 `cpu.max`,
or v1 `cpu.cfs_quota_us` where only v1's cpu controller is mounted, as in many containers) and
each function process joins it before it execs (`join`, the `preexec_fn`). The services (moto,
the provider, the proxies) stay outside: only the function is slowed, as in Lambda.
"""

from __future__ import annotations

import os
from pathlib import Path

# Lambda's documented point of one full vCPU.
FULL_VCPU_MB = 1769
PERIOD_US = 100_000
CGROUP = Path("/sys/fs/cgroup")


class CpuQuota:
    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        self.share = memory_mb / FULL_VCPU_MB
        self.quota_us = max(1000, round(PERIOD_US * self.share))
        name = f"spa-login-bench-{os.getpid()}"
        controllers = CGROUP / "cgroup.controllers"
        try:
            if controllers.exists() and "cpu" in controllers.read_text().split():
                # cgroup v2: the cpu controller must be on for the root's children.
                try:
                    (CGROUP / "cgroup.subtree_control").write_text("+cpu")
                except OSError:
                    pass
                self.dir = CGROUP / name
                self.dir.mkdir()
                (self.dir / "cpu.max").write_text(f"{self.quota_us} {PERIOD_US}")
                self.kind = "cgroup v2 cpu.max"
            elif (CGROUP / "cpu" / "cpu.cfs_quota_us").exists():
                self.dir = CGROUP / "cpu" / name
                self.dir.mkdir()
                (self.dir / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (self.dir / "cpu.cfs_quota_us").write_text(str(self.quota_us))
                self.kind = "cgroup v1 cpu.cfs_quota_us"
            else:
                raise OSError("no cgroup cpu controller is mounted")
        except OSError as e:
            raise SystemExit(f"coldstart: --memory-mb needs a writable cgroup cpu controller (as root): {e}") from e
        self.procs = str(self.dir / "cgroup.procs")

    def describe(self) -> str:
        return f"{self.quota_us} µs of CPU per {PERIOD_US} µs ({self.share:.1%} of one vCPU, {self.kind})"

    def join(self) -> None:
        """In the child, before exec: move this process into the cgroup."""
        with open(self.procs, "w") as f:
            f.write(str(os.getpid()))

    def remove(self) -> None:
        try:
            self.dir.rmdir()
        except OSError:
            pass
