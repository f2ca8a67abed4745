"""A real one-node SLURM cluster on loopback, for the SLURM test: Debian's munge, MariaDB,
slurmdbd (job accounting, which `sacct` needs), slurmctld and slurmd, each started by the test
with its state, logs and config files in one folder, and stopped after it. Root only (the
daemons and MariaDB run as root here). ``python tests/slurm_cluster.py DIR`` starts one by hand.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurm-wlm", "slurmdbd", "munge", "mariadb-server")
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
CLUSTER = "tripost"
ACCOUNT = "tripost"
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
# The job step inside an sbatch job (snakemake-executor-plugin-slurm-jobstep) drops SLURM_*
# variables, SLURM_CONF among them, so its srun reads the default path: the cluster's config
# files are linked there while it runs (never over an existing file).
ETC = Path("/etc/slurm")
LINKED = ("slurm.conf", "slurmdbd.conf")


def missing() -> list[str]:
    """What this machine lacks to run the cluster (empty: it can)."""
    out = [name for name in (*DAEMONS, "sbatch", "sacct", "sacctmgr", "mariadb-install-db") if not shutil.which(name)]
    if os.geteuid() != 0:
        out.append("root")
    for name in LINKED:
        if (ETC / name).exists() and not (ETC / name).is_symlink():
            out.append(f"{ETC / name} is not ours (a real cluster's?)")
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, what: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not come up in {seconds:.0f} s")


def _ok(*command: str, env: dict | None = None) -> bool:
    return subprocess.run(command, capture_output=True, env=env).returncode == 0


class Cluster:
    """Start with ``start()``; ``env`` is what a client (sbatch, sacct, snakemake) needs."""

    def __init__(self, root: Path, cpus: int | None = None, memory_mb: int | None = None):
        self.root = Path(root)
        self.host = socket.gethostname().split(".")[0]
        self.cpus = cpus or os.cpu_count() or 1
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        self.memory_mb = memory_mb or int(total_mb * 0.9)
        self.ports = {name: _free_port() for name in ("mysql", "dbd", "ctld", "slurmd")}
        self.processes: list[subprocess.Popen] = []
        self.env = {**os.environ, "SLURM_CONF": str(self.root / "slurm.conf")}

    # ---- configuration ----------------------------------------------------------------------
    def _write_configs(self) -> None:
        for folder in ("state", "spool", "log", "mysql", "munge"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        r = self.root
        (r / "slurmdbd.conf").write_text(
            f"AuthType=auth/munge\nDbdHost=localhost\nDbdPort={self.ports['dbd']}\n"
            f"SlurmUser=root\nStorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\n"
            f"StoragePort={self.ports['mysql']}\nStorageUser=slurm\nStoragePass=slurm\nStorageLoc=slurm_acct_db\n"
            f"PidFile={r}/state/slurmdbd.pid\nLogFile={r}/log/slurmdbd.log\n")
        (r / "slurmdbd.conf").chmod(0o600)
        (r / "slurm.conf").write_text(
            f"ClusterName={CLUSTER}\nSlurmctldHost={self.host}(127.0.0.1)\nSlurmctldPort={self.ports['ctld']}\n"
            f"SlurmdPort={self.ports['slurmd']}\nSlurmUser=root\nSlurmdUser=root\n"
            "AuthType=auth/munge\nCryptoType=crypto/munge\n"
            f"StateSaveLocation={r}/state\nSlurmdSpoolDir={r}/spool\n"
            f"SlurmctldPidFile={r}/state/slurmctld.pid\nSlurmdPidFile={r}/state/slurmd.pid\n"
            f"SlurmctldLogFile={r}/log/slurmctld.log\nSlurmdLogFile={r}/log/slurmd.log\n"
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nMpiDefault=none\n"
            "SchedulerType=sched/backfill\nSelectType=select/cons_tres\nSelectTypeParameters=CR_CPU\n"
            "ReturnToService=2\nMinJobAge=600\nInactiveLimit=0\nKillWait=5\nWaittime=0\nMailProg=/bin/true\n"
            f"AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\n"
            "AccountingStoreFlags=job_comment\n"
            f"AccountingStoragePort={self.ports['dbd']}\nJobAcctGatherType=jobacct_gather/linux\nJobAcctGatherFrequency=5\n"
            f"NodeName={self.host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN\n"
            f"PartitionName=main Nodes={self.host} Default=YES MaxTime=INFINITE State=UP\n")

    def _link_configs(self) -> None:
        ETC.mkdir(parents=True, exist_ok=True)
        for name in LINKED:
            (ETC / name).unlink(missing_ok=True)  # a link left by an earlier test cluster
            (ETC / name).symlink_to(self.root / name)

    def _unlink_configs(self) -> None:
        for name in LINKED:
            if (ETC / name).is_symlink() and (ETC / name).resolve() == (self.root / name).resolve():
                (ETC / name).unlink()

    def _spawn(self, *command: str, log: str) -> None:
        handle = open(self.root / "log" / log, "a")
        self.processes.append(subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=self.env))

    # ---- the daemons ----------------------------------------------------------------------------
    def _start_munge(self) -> None:
        """munged on its default socket (Slurm's clients always use that one to reach slurmdbd);
        one already answering there (a machine's own) is used as it is."""
        if _ok("sh", "-c", "munge -n | unmunge"):
            return
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
            key.chmod(0o400)
        MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
        self._spawn("munged", "--foreground", "--force", f"--key-file={key}", f"--socket={MUNGE_SOCKET}",
                    f"--pid-file={self.root}/munge/munged.pid", f"--log-file={self.root}/log/munged.log",
                    f"--seed-file={self.root}/munge/munge.seed", log="munged.out")
        _wait(lambda: _ok("sh", "-c", "munge -n | unmunge"), "munged")

    def _start_mariadb(self) -> None:
        data = self.root / "mysql"
        if not (data / "mysql").exists():
            subprocess.run(["mariadb-install-db", f"--datadir={data}", "--user=root",
                            "--auth-root-authentication-method=normal", "--skip-test-db"],
                           check=True, capture_output=True)
        socket_path = self.root / "mysql.sock"
        self._spawn("mariadbd", "--no-defaults", f"--datadir={data}", "--user=root", f"--socket={socket_path}",
                    "--bind-address=127.0.0.1", f"--port={self.ports['mysql']}", f"--pid-file={self.root}/mysql.pid",
                    "--innodb-buffer-pool-size=64M", log="mariadb.log")
        client = ["mariadb", "--no-defaults", f"--socket={socket_path}", "-uroot"]
        _wait(lambda: _ok(*client, "-e", "SELECT 1"), "MariaDB")
        subprocess.run(client + ["-e", "CREATE USER IF NOT EXISTS 'slurm'@'%' IDENTIFIED BY 'slurm'; "
                                        "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'%'; FLUSH PRIVILEGES;"], check=True)

    def start(self) -> Cluster:
        self._write_configs()
        self._link_configs()
        self._start_munge()
        self._start_mariadb()
        # slurmdbd reads slurmdbd.conf beside $SLURM_CONF
        self._spawn("slurmdbd", "-D", log="slurmdbd.out")
        _wait(lambda: _ok("sacctmgr", "-n", "list", "cluster", env=self.env), "slurmdbd")
        for entity in (f"cluster {CLUSTER}", f"account {ACCOUNT} cluster={CLUSTER}",
                       f"user root account={ACCOUNT} cluster={CLUSTER}"):
            subprocess.run(["sacctmgr", "-i", "add", *entity.split()], capture_output=True, env=self.env)
        self._spawn("slurmctld", "-D", "-i", "-f", str(self.root / "slurm.conf"), log="slurmctld.out")
        _wait(lambda: _ok("scontrol", "ping", env=self.env), "slurmctld")
        self._spawn("slurmd", "-D", "-N", self.host, "-f", str(self.root / "slurm.conf"), log="slurmd.out")
        _wait(lambda: "idle" in subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                                               env=self.env).stdout, "slurmd (node idle)")
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        self._unlink_configs()

    def log_tail(self, chars: int = 3000) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-chars:]}"
                         for p in sorted((self.root / "log").iterdir()))


if __name__ == "__main__":
    import sys

    cluster = Cluster(Path(sys.argv[1])).start()
    print(f"export SLURM_CONF={cluster.root / 'slurm.conf'}  # the cluster runs until this is interrupted")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        cluster.stop()
