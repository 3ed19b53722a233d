"""A single-node SLURM cluster for the tests, under one temporary folder, started without systemd (as root).

munged with its own key and socket, a private MariaDB on 127.0.0.1 for slurmdbd (accounting: submitit
learns from ``sacct`` that SLURM ended a job), slurmctld and ``slurmd -N localhost``. Clients find it
through ``SLURM_CONF``. Needs the Debian packages ``slurm-wlm munge slurmdbd mariadb-server`` (.ci/run
installs them). Facts learned setting it up: the slurmdbd connection ignores ``AuthInfo`` and needs
``AccountingStoragePass=<munge socket>``; ``select/cons_tres`` with ``CR_Core`` runs jobs side by side;
``proctrack/linuxproc`` and ``task/none`` need no cgroups; ``sinfo`` says ``unk`` for about 2 s.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge", "slurmdbd", "mariadb-server")
COMMANDS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacctmgr")
DB_PASSWORD = "slurmdbd-test"


class ClusterUnavailable(RuntimeError):
    """The cluster could not be started here (missing packages, not root, a daemon failed)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SlurmCluster:
    """Start with :meth:`start`, stop with :meth:`stop`; :attr:`env` points clients at it."""

    def __init__(self, root: Path, cpus: int = 2) -> None:
        self.root, self.cpus = root, cpus
        self.processes: list[subprocess.Popen] = []
        self.ports = {name: free_port() for name in ("mysql", "dbd", "ctld", "slurmd")}
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> SlurmCluster:
        missing = [c for c in COMMANDS if shutil.which(c) is None]
        if missing:
            raise ClusterUnavailable(f"missing {' '.join(missing)} (apt-get install {' '.join(PACKAGES)})")
        if os.geteuid() != 0:
            raise ClusterUnavailable("the test cluster runs its daemons as root")
        for name in ("state", "spool", "mysql", "log"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self._start_munge()
        self._start_mariadb(timeout)
        self._write_configs()
        self._daemon(["slurmdbd", "-D"], "slurmdbd")
        self._wait(lambda: self._run(["sacctmgr", "-n", "list", "cluster"]).returncode == 0, timeout, "slurmdbd")
        self._run(["sacctmgr", "-i", "add", "cluster", "nnscratch"])
        self._daemon(["slurmctld", "-D", "-i", "-f", str(self.conf)], "slurmctld")
        self._daemon(["slurmd", "-D", "-N", "localhost", "-f", str(self.conf)], "slurmd")
        self._wait(self._node_idle, timeout, "slurmd (node idle)")
        return self

    def stop(self) -> None:
        if self.conf.exists():
            self._run(["scancel", "--full", "--user=root"])
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()

    # --- queries ------------------------------------------------------------------------------------
    def jobs(self) -> list[dict[str, str]]:
        """Jobs slurmctld knows: ``[{"id", "state", "name"}]`` (running, pending and recently ended)."""
        done = self._run(["squeue", "-h", "-t", "all", "-o", "%i|%T|%j"])
        return [dict(zip(("id", "state", "name"), line.split("|"))) for line in done.stdout.split()]

    def running(self) -> list[str]:
        return [job["id"] for job in self.jobs() if job["state"] in ("RUNNING", "PENDING", "CONFIGURING",
                                                                       "COMPLETING")]

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*.log")):
            parts.append(f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(parts)

    # --- pieces -------------------------------------------------------------------------------------
    def _start_munge(self) -> None:
        key = self.root / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.munge_socket = self.root / "munge.socket"
        self._daemon(["munged", "-F", "--force", f"--key-file={key}", f"--socket={self.munge_socket}",
                      f"--pid-file={self.root / 'munged.pid'}", f"--seed-file={self.root / 'munge.seed'}",
                      f"--log-file={self.root / 'log' / 'munged.log'}"], None)
        self._wait(self.munge_socket.exists, 20, "munged")

    def _start_mariadb(self, timeout: float) -> None:
        data, sock = self.root / "mysql", self.root / "mysql.sock"
        self._checked(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                       "--auth-root-authentication-method=socket", "--skip-test-db"], "mariadb-install-db")
        self._daemon(["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={sock}", "--user=root",
                      f"--port={self.ports['mysql']}", "--bind-address=127.0.0.1", "--skip-name-resolve",
                      f"--pid-file={self.root / 'mysql.pid'}", "--innodb-buffer-pool-size=32M"], "mariadb")
        self._wait(sock.exists, timeout, "mariadbd")
        sql = (f"CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'; "
               "GRANT ALL ON *.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;")
        client = ["mariadb", "--no-defaults", f"--socket={sock}", "-u", "root", "-e", sql]
        self._wait(lambda: self._run(client).returncode == 0, timeout, "mariadb user")

    def _write_configs(self) -> None:
        log, root = self.root / "log", self.root
        dbd = self.root / "slurmdbd.conf"
        dbd.write_text("\n".join([
            "AuthType=auth/munge", f"AuthInfo=socket={self.munge_socket}", "DbdHost=localhost",
            "DbdAddr=127.0.0.1", f"DbdPort={self.ports['dbd']}", "SlurmUser=root",
            f"LogFile={log / 'slurmdbd.log'}", f"PidFile={root / 'slurmdbd.pid'}",
            "StorageType=accounting_storage/mysql", "StorageHost=127.0.0.1", f"StoragePort={self.ports['mysql']}",
            "StorageUser=slurm", f"StoragePass={DB_PASSWORD}", "StorageLoc=slurm_acct_db", ""]))
        dbd.chmod(0o600)
        self.conf.write_text("\n".join([
            "ClusterName=nnscratch", "SlurmctldHost=localhost(127.0.0.1)", f"SlurmctldPort={self.ports['ctld']}",
            f"SlurmdPort={self.ports['slurmd']}", "AuthType=auth/munge", f"AuthInfo=socket={self.munge_socket}",
            "SlurmUser=root", "SlurmdUser=root", "MpiDefault=none", "ReturnToService=2",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
            "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "SchedulerType=sched/backfill",
            "AccountingStorageType=accounting_storage/slurmdbd", "AccountingStorageHost=127.0.0.1",
            f"AccountingStoragePort={self.ports['dbd']}", f"AccountingStoragePass={self.munge_socket}",
            "KillWait=5", "MinJobAge=600", "InactiveLimit=0", "SlurmctldTimeout=30", "SlurmdTimeout=30",
            f"StateSaveLocation={root / 'state'}", f"SlurmdSpoolDir={root / 'spool'}",
            f"SlurmctldPidFile={root / 'slurmctld.pid'}", f"SlurmdPidFile={root / 'slurmd.pid'}",
            f"SlurmctldLogFile={log / 'slurmctld.log'}", f"SlurmdLogFile={log / 'slurmd.log'}",
            f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory=8000 State=UNKNOWN",
            "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP", ""]))

    def _node_idle(self) -> bool:
        done = self._run(["sinfo", "-h", "-o", "%T"])
        return done.returncode == 0 and done.stdout.strip() in ("idle", "mixed", "allocated")

    # --- processes ----------------------------------------------------------------------------------
    def _daemon(self, command: list[str], log_name: str | None) -> None:
        out = open(self.root / "log" / f"{log_name or command[0]}.out", "ab")  # noqa: SIM115 - owned by the process
        self.processes.append(subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, cwd=self.root))

    def _run(self, command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60, check=False)

    def _checked(self, command: list[str], what: str) -> None:
        done = self._run(command)
        if done.returncode:
            raise ClusterUnavailable(f"{what} failed: {(done.stdout + done.stderr)[-2000:]}")

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            dead = [p.args[0] for p in self.processes if p.poll() is not None]
            if dead:
                raise ClusterUnavailable(f"{' '.join(dead)} exited while waiting for {what}\n{self.log_tail()}")
            time.sleep(0.2)
        raise ClusterUnavailable(f"{what} not ready after {timeout:.0f}s\n{self.log_tail()}")
