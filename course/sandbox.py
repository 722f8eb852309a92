"""Run one untrusted command (a student's notebook under pytest) with as little reach as we can.

Layers, outermost first:

- ``prlimit``: address space, processes, file size, CPU seconds (inherited by everything).
- ``bwrap`` (bubblewrap): new PID, network, IPC and UTS namespaces (plus a user namespace
  when the grader is not root); the host file system read-only; a private ``/tmp`` with
  only this student's work folder writable; ``/root``, the submissions folder and the
  output folder hidden behind empty tmpfs mounts; the sandbox dies with the grader.
- ``setpriv``: when the grader runs as root (CI, ``make test``), drop to an unprivileged
  user inside the sandbox, before any student code, so it never runs as root: ``nobody``
  for one-off commands, and one numeric id per parallel grading slot (``SLOT_UID_BASE +
  slot``, no account needed) so the per-user process limit isolates concurrent students.

When bubblewrap is missing or cannot create namespaces (some containers forbid them) the
fallback is ``unshare`` (network and PID namespaces, root only) plus ``setpriv``: files that
``nobody`` may read stay readable. When neither works the command runs with rlimits only and
:func:`probe` returns a loud warning, which the grader prints.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534
# As root, each parallel grading slot runs as its own numeric user id (no passwd entry is
# needed): RLIMIT_NPROC counts processes per user, so one student's fork bomb cannot starve
# the student graded beside them. Far above any real account; nothing on disk is owned by it.
SLOT_UID_BASE = 1_900_000_000
# Inside the sandbox the student's work folder is always here (a private tmpfs /tmp).
JOB_DIR = "/tmp/job"


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to every process of one grading run."""
    memory_bytes: int = 2 * 1024**3   # address space per process: numpy + kernel need ~1 GB
    processes: int = 128              # per user id, threads included (a kernel uses ~15)
    file_bytes: int = 64 * 1024**2    # largest file any process may write
    cpu_seconds: int = 600            # a backstop; the wall-clock timeout comes first


def _prlimit(limits: Limits) -> list[str]:
    return ["prlimit", f"--as={limits.memory_bytes}", f"--nproc={limits.processes}",
            f"--fsize={limits.file_bytes}", f"--cpu={limits.cpu_seconds}", "--core=0", "--"]


def sandbox_uid(slot: int | None) -> int:
    """The user id student code runs as when the grader is root: per slot, else nobody."""
    return NOBODY if slot is None else SLOT_UID_BASE + slot


def _drop_root(slot: int | None = None) -> list[str]:
    if os.geteuid() != 0:
        return []
    uid = sandbox_uid(slot)
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--"]


# Folders the sandbox replaces with empty tmpfs mounts (root's home holds credentials; /tmp
# is private to each student).
MASKED = (Path("/root"), Path("/tmp"))


def _masked(path: Path) -> bool:
    return any(path.is_relative_to(m) for m in MASKED)


def _readable_prefixes() -> list[str]:
    """Folders under a masked folder that the sandbox must still see: the Python
    installation (pyenv puts it in /root/.pyenv), the virtualenv and the repository (a CI
    checkout may live under /tmp)."""
    here = Path(__file__).resolve().parent.parent
    venv = Path(sys.prefix)  # not resolved: the venv folder itself, not its interpreter's
    wanted = {Path(sys.base_prefix).resolve(), venv.absolute(), Path(sys.prefix).resolve(), here}
    return sorted(str(p) for p in wanted if _masked(p))


def _bwrap(workdir: Path, hide: list[Path], slot: int | None = None) -> list[str]:
    """bubblewrap arguments. As root, bwrap sets up the namespaces (no user namespace is
    needed) and ``setpriv`` drops to nobody *inside*; otherwise a user namespace is used."""
    if os.geteuid() == 0:
        cmd = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
               "--unshare-cgroup-try"]
    else:
        cmd = ["bwrap", "--unshare-all"]
    cmd += ["--die-with-parent", "--new-session",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    # root's home holds credentials: hide it, then bring back only what Python needs.
    cmd += ["--tmpfs", "/root"]
    for prefix in _readable_prefixes():
        # bwrap would create the folders leading to it with mode 700, unreadable to nobody.
        for parent in reversed(Path(prefix).parents):
            if _masked(parent) and parent not in MASKED:
                cmd += ["--perms", "0755", "--dir", str(parent)]
        cmd += ["--ro-bind", prefix, prefix]
    for path in hide:
        if path.exists():
            cmd += ["--tmpfs", str(path)]
    cmd += ["--bind", str(workdir), JOB_DIR, "--chdir", JOB_DIR, "--"]
    return cmd + _drop_root(slot)


def _unshare() -> list[str]:
    return ["unshare", "--net", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc", "--"]


@functools.lru_cache(maxsize=None)
def _works(kind: str) -> bool:
    """Try the wrapper once on a trivial command (cached: the answer does not change)."""
    prefix = {"bwrap": _bwrap(Path("/tmp"), []),
              "unshare": _unshare() + _drop_root()}[kind]
    if shutil.which(prefix[0]) is None or (kind == "unshare" and os.geteuid() != 0):
        return False
    try:
        # Python itself, not `true`: pyenv installs under /root (mode 700) that `nobody`
        # cannot reach unless bwrap mounts them, and a sandbox that cannot run the grader's
        # Python is no sandbox at all.
        # The version check catches a silent switch to another interpreter (seen when the
        # venv's symlink target is unreachable and the system Python answers instead).
        check = f"import sys, course, nbval; assert sys.version == {sys.version!r}"
        done = subprocess.run(prefix + [sys.executable, "-c", check],
                              capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def probe() -> tuple[str, str]:
    """Which isolation is available: ("bwrap" | "unshare" | "none", warning text or "")."""
    if _works("bwrap"):
        return "bwrap", ""
    if _works("unshare"):
        return "unshare", ("WARNING: bubblewrap is unavailable; grading with `unshare` + `setpriv` "
                           "(no network, own PID namespace, user nobody) but files readable by "
                           "'nobody' stay readable. Install bubblewrap (apt-get install bubblewrap).")
    return "none", ("WARNING: NO SANDBOX. Neither bubblewrap nor unshare works here, so student "
                    "code runs with rlimits only, as the user running the grader, with network "
                    "access. Grade untrusted submissions only after installing bubblewrap.")


def job_dir(workdir: Path) -> str:
    """Where the command sees the student's work folder (bwrap mounts it at JOB_DIR)."""
    return JOB_DIR if probe()[0] == "bwrap" else str(workdir)


def wrap(argv: list[str], workdir: Path, hide: list[Path], limits: Limits,
         slot: int | None = None) -> list[str]:
    """The full command line running ``argv`` in the sandbox, ``workdir`` writable.

    slot: which parallel grading slot runs it (its own user id when root), or None.
    """
    kind, _ = probe()
    if kind == "bwrap":
        return _prlimit(limits) + _bwrap(workdir, hide, slot) + argv
    if kind == "unshare":
        return _prlimit(limits) + _unshare() + _drop_root(slot) + argv
    return _prlimit(limits) + argv


def prepare_workdir(workdir: Path, slot: int | None = None) -> None:
    """Make the student's work folder writable by the sandbox user (when root)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        uid = sandbox_uid(slot)
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, uid, uid)
