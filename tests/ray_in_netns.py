"""Ray sweeps, run inside a network namespace that has only loopback (test_sweeper_ray.py starts it so).

Ray binds the machine's routable address even when told 127.0.0.1; here there is none. Usage:
``unshare -n sh -c 'ip link set lo up && exec python tests/ray_in_netns.py DIR'``. Starts a local Ray
head, runs the scenarios with the toy app through ``hydra/launcher=ray``, stops the head; the calling
test reads the studies and events under DIR.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from sweeper_app.harness import events, run, start, sweep_args  # noqa: E402

CONF = Path(__file__).resolve().parent.parent / "conf"
RAY = Path(sys.executable).parent / "ray"
LAUNCHER = (f"hydra.searchpath=[file://{CONF}]", "hydra/launcher=ray", "hydra.launcher.ray.remote.num_cpus=1",
            "hydra.sweeper.n_jobs=2", "hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=10")


def main(root: Path) -> int:
    port = 6390
    head = subprocess.run([str(RAY), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                           "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
                          capture_output=True, text=True, timeout=300)
    if head.returncode:
        print(head.stdout + head.stderr, file=sys.stderr)
        return 2
    env = {"RAY_ADDRESS": f"127.0.0.1:{port}"}
    try:
        code = run(sweep_args(root / "pruned", "pruned", *LAUNCHER, "hydra.sweeper.n_trials=4", "epochs=3",
                              "sleep=0.3", "penalty_per_trial=10", "hydra/sweeper/pruner=median",
                              "hydra.sweeper.pruner.n_startup_trials=2"), cwd=root, log=root / "pruned.log",
                   timeout=600, **env)
        if code:
            return 3
        gate = root / "go"
        args = sweep_args(root / "killed", "killed", *LAUNCHER, "hydra.sweeper.n_trials=4", "epochs=1",
                          f"wait_for={gate}")
        driver = start(args, cwd=root, log=root / "killed.log", **env)
        deadline = time.monotonic() + 300
        while len(events(root / "killed", "killed")) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        gate.touch()
        return 0 if run(args, cwd=root, log=root / "rerun.log", timeout=600, **env) == 0 else 4
    finally:
        subprocess.run([str(RAY), "stop", "--force"], capture_output=True, timeout=120)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
