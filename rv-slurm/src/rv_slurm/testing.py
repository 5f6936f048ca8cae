"""A one-node Slurm cluster on loopback, for tests of the ``slurm`` runner (and of plugins that use it).

``slurm_cluster`` (a session fixture) writes a ``slurm.conf`` with its own
ports and state folders under a temporary directory, a munge key, starts
``munged``, ``slurmctld`` and ``slurmd`` in the foreground as child
processes, waits until ``sinfo`` shows the node idle, and at the end stops
the three by their pids. Point Slurm's commands at it with
``cluster.env`` (``SLURM_CONF``).

It needs Debian's ``slurm-wlm`` and ``munge`` (``apt-get install -y
slurm-wlm munge``) and root (the daemons run as root, ``SlurmUser=root``);
without them the fixture skips, naming what is missing. Ended jobs are kept
by slurmctld for an hour (``MinJobAge``), and each job's start and end are
written to ``cluster.jobcomp_log`` (``jobcomp/filetxt``): read them with
:meth:`SlurmCluster.completed_jobs`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

APT_PACKAGES = "slurm-wlm munge"
PARTITION = "rvtest"
NODE = "rvnode"
_DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")


@dataclass
class SlurmCluster:
    """The running cluster: its folder, ``slurm.conf`` and the pids of its daemons."""

    root: Path
    conf: Path
    jobcomp_log: Path
    partition: str = PARTITION
    node: str = NODE
    processes: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)

    @property
    def env(self) -> dict[str, str]:
        """The environment that points Slurm's commands (and rv's sbatch calls) at this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def command(self, *argv: str, check: bool = True) -> str:
        """Run a Slurm command against this cluster; return its stdout."""
        result = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=60, env=dict(os.environ, **self.env)
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr or result.stdout}")
        return result.stdout

    def job_ids(self) -> list[str]:
        """Every job slurmctld knows (queued, running or ended within the hour), oldest first."""
        out = self.command("squeue", "--noheader", "--states=all", "--format=%i")
        # An array job's tasks are listed as 123_0 (or 123_[1-3] while pending): by job id, then task.
        return sorted(
            (line.strip() for line in out.splitlines() if line.strip()),
            key=lambda i: (int(i.split("_")[0]), i),
        )

    def completed_jobs(self) -> dict[str, dict[str, str]]:
        """The job completion log: ``{job id: {"Name", "JobState", "StartTime", "EndTime", ...}}``."""
        jobs = {}
        if not self.jobcomp_log.exists():
            return jobs
        for line in self.jobcomp_log.read_text().splitlines():
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            if "JobId" in fields:
                jobs[fields["JobId"]] = fields
        return jobs

    def wait_until_ended(self, job_ids, timeout: float = 300) -> dict[str, str]:
        """Wait until the jobs have ended; return ``{job id: state}``."""
        ids = [str(i) for i in job_ids]
        deadline = time.monotonic() + timeout
        while True:
            out = self.command("squeue", "--noheader", "--states=all", f"--jobs={','.join(ids)}", "--format=%i|%T")
            states = dict(line.strip().split("|", 1) for line in out.splitlines() if "|" in line)
            if all(states.get(i) not in (None, "PENDING", "RUNNING", "CONFIGURING", "COMPLETING") for i in ids):
                return states
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs {ids} still not ended after {timeout} s: {states}")
            time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")


def job_times(job: dict[str, str]) -> tuple[datetime, datetime]:
    """``(StartTime, EndTime)`` of a job of :meth:`SlurmCluster.completed_jobs`."""
    return _timestamp(job["StartTime"]), _timestamp(job["EndTime"])


def slurm_conf_text(root: Path, controller_port: int, node_port: int, cpus: int) -> str:
    """The ``slurm.conf`` of the one-node cluster under ``root``."""
    host = socket.gethostname().split(".")[0]
    return f"""\
ClusterName=rvtest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={controller_port}
SlurmdPort={node_port}
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={root}/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName={NODE} NodeAddr=127.0.0.1 NodeHostname={host} CPUs={cpus} State=UNKNOWN
PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
"""


def _start(name: str, argv: list[str], root: Path, env: dict[str, str]) -> subprocess.Popen:
    log = open(root / f"{name}.out", "w")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for name in ("slurmd", "slurmctld", "munged"):  # the node first, munge last (the others use it)
        proc = processes.get(name)
        if proc is None or proc.poll() is not None:
            continue
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def start_cluster(root: Path, timeout: float = 60) -> SlurmCluster:
    """Start munged, slurmctld and slurmd under ``root``; return once the node is idle.

    Raises:
        RuntimeError: a daemon exited or the node was not idle within
            ``timeout`` seconds (the message holds the daemons' logs).
    """
    for sub in ("munge", "state", "spool"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "munge", 0o700)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf_text(root, _free_port(), _free_port(), os.cpu_count() or 1))
    env = dict(os.environ, SLURM_CONF=str(conf))
    cluster = SlurmCluster(root=root, conf=conf, jobcomp_log=root / "jobcomp.log")
    processes = cluster.processes
    try:
        processes["munged"] = _start(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",
                f"--key-file={key}",
                f"--socket={root}/munge/munge.socket",
                f"--pid-file={root}/munge/munged.pid",
                f"--log-file={root}/munge/munged.log",
                f"--seed-file={root}/munge/munged.seed",
            ],
            root,
            env,
        )
        _wait_for(lambda: (root / "munge" / "munge.socket").exists(), processes, root, 20, "munged's socket")
        processes["slurmctld"] = _start("slurmctld", ["slurmctld", "-D", "-c", "-i", "-f", str(conf)], root, env)
        _wait_for(
            lambda: (
                subprocess.run(["scontrol", "ping"], env=env, capture_output=True, text=True).stdout.count("UP") > 0
            ),
            processes,
            root,
            timeout,
            "slurmctld to answer `scontrol ping`",
        )
        processes["slurmd"] = _start("slurmd", ["slurmd", "-D", "-f", str(conf), "-N", NODE], root, env)
        _wait_for(
            lambda: (
                subprocess.run(
                    ["sinfo", "--noheader", "--format=%t", f"--nodes={NODE}"], env=env, capture_output=True, text=True
                ).stdout.strip()
                == "idle"
            ),
            processes,
            root,
            timeout,
            "the node to be idle in sinfo",
        )
    except BaseException:
        _stop(processes)
        raise
    return cluster


def _wait_for(ready, processes, root: Path, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        dead = [name for name, proc in processes.items() if proc.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(
                f"--- {p.name}\n{p.read_text()[-3000:]}"
                for p in sorted(root.glob("*.out")) + sorted(root.glob("*.log")) + sorted(root.glob("munge/*.log"))
                if p.is_file()
            )
            why = f"{', '.join(dead)} exited" if dead else f"gave up after {timeout} s"
            raise RuntimeError(f"The test Slurm cluster did not start ({why}) while waiting for {what}.\n{logs}")
        time.sleep(0.2)


def missing_capability() -> str | None:
    """Why this machine cannot run the test cluster, or ``None`` when it can."""
    missing = [name for name in _DAEMONS if shutil.which(name) is None]
    if missing:
        return f"Slurm and munge are not installed ({', '.join(missing)} missing): apt-get install -y {APT_PACKAGES}"
    if os.geteuid() != 0:
        return "the test Slurm cluster runs its daemons as root (SlurmUser=root), and this is not root"
    return None


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory) -> Iterator[SlurmCluster]:
    """A one-node Slurm cluster on loopback, for the whole session (see the module docstring)."""
    why = missing_capability()
    if why:
        pytest.skip(why)
    # A short folder: the munge socket path must fit in a Unix socket address (108 bytes).
    root = Path(tmp_path_factory.mktemp("slurm", numbered=True))
    cluster = start_cluster(root)
    try:
        yield cluster
    finally:
        _stop(cluster.processes)
