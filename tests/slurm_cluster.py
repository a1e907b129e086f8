"""A real one-node SLURM on localhost for the tests: Debian's slurm-wlm, started and stopped here.

munged, slurmctld and slurmd run in the foreground with their state in a temporary folder;
packages are installed first where they are missing and the machine can (root, apt-get). The
tests that use it share one xdist group ("slurm"): one cluster and its fixed ports at a time.
"""

import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

PACKAGES = ["munge", "slurmctld", "slurmd", "slurm-client"]
SLURM_CONF = """\
ClusterName=lstm-mnist-tests
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobRequeue=1
ReturnToService=2
MpiDefault=none
KillWait=5
MinJobAge=600
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/spool
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def install_slurm() -> None:
    """Debian's packages, without letting them start daemons (policy-rc.d exits 101)."""
    if all(shutil.which(tool) for tool in ("munged", "slurmctld", "slurmd", "sbatch")):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"SLURM is not installed and cannot be (needs root and apt-get): {PACKAGES}")
    policy = Path("/usr/sbin/policy-rc.d")
    had_policy = policy.exists()
    if not had_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600, env=env)
        command = ["apt-get", "install", "-y", "-qq", *PACKAGES]
        subprocess.run(command, check=True, timeout=600, env=env, capture_output=True)
    finally:
        if not had_policy:
            policy.unlink()


def start(command: list[str], log: Path, **kwargs) -> subprocess.Popen:
    with log.open("w") as output:  # the daemon keeps its own copy of the file
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )


@contextmanager
def running_cluster(state: Path):
    """A running one-node cluster: the environment that reaches it (SLURM_CONF)."""
    install_slurm()
    for folder in ("ctld", "spool"):
        (state / folder).mkdir()
    conf = state / "slurm.conf"
    conf.write_text(SLURM_CONF.format(state=state, cpus=os.cpu_count()))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    Path("/run/munge").mkdir(exist_ok=True)  # munged's default socket, where SLURM looks
    shutil.chown("/run/munge", "munge", "munge")
    munge = ["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--foreground", "--force"]
    daemons = [start(munge, state / "munged.out")]
    daemons += [
        start(["slurmctld", "-D", "-i", "-f", str(conf)], state / "slurmctld.out", env=env),
        start(["slurmd", "-D", "-N", "localhost", "-f", str(conf)], state / "slurmd.out", env=env),
    ]
    try:
        wait_for(lambda: "idle" in sinfo(env), 60, "the node to be idle")
        yield env
    finally:
        for daemon in reversed(daemons):
            os.killpg(daemon.pid, signal.SIGTERM)
        for daemon in daemons:
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)


def sinfo(env) -> str:
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
    return result.stdout


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def job(env, job_id: str) -> dict[str, str]:
    """`scontrol show job`'s fields (JobState, Restarts, ExitCode, ...)."""
    shown = subprocess.run(
        ["scontrol", "-o", "show", "job", job_id], env=env, capture_output=True, text=True
    ).stdout
    return dict(field.split("=", 1) for field in shown.split() if "=" in field)


def finished(env, job_id: str, timeout: float = 180) -> dict[str, str]:
    """Wait for the job to end; a requeued job waits for its BeginTime (~2 min): start it now."""

    def done() -> bool:
        fields = job(env, job_id)
        if fields.get("JobState") == "PENDING" and fields.get("Reason") == "BeginTime":
            subprocess.run(["scontrol", "update", f"jobid={job_id}", "StartTime=now"], env=env)
        return fields.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT")

    wait_for(done, timeout, f"job {job_id} to end")
    return job(env, job_id)
