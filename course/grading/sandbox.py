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
``nobody`` may read stay readable. When neither works, :func:`probe` answers ``"none"`` and
the grader refuses to run student code unless the instructor passed ``--no-sandbox``. Even
then, as root, the code runs under the slot's unprivileged user id with the rlimits (setpriv
needs no namespaces), so ``kill(-1)`` and deletions are confined by ordinary permissions,
and :func:`reap` kills whatever that user left running before the slot is reused.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from course.paths import ROOT, SANITIZE

NOBODY = 65534
# As root, each parallel grading slot runs as its own numeric user id (no passwd entry is
# needed): RLIMIT_NPROC counts processes per user, so one student's fork bomb cannot starve
# the student graded beside them. Far above any real account; nothing on disk is owned by it.
# Each grader process takes its own block of SLOTS_PER_BATCH ids (by its process id), so two
# batches on one machine (Slurm array tasks sharing a node) never share a process limit, and
# reap() of one never kills the other's students.
SLOT_UID_BASE = 1_900_000_000
SLOTS_PER_BATCH = 256
# Inside the sandbox the student's work folder is always here (a private tmpfs /tmp).
JOB_DIR = "/tmp/job"
KINDS = ("bwrap", "unshare", "none")


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to every process of one grading run."""

    memory_bytes: int = 2 * 1024**3  # address space per process: numpy + kernel need ~1 GB
    processes: int = 128  # per user id, threads included (a kernel uses ~15)
    file_bytes: int = 64 * 1024**2  # largest file any process may write
    cpu_seconds: int = 600  # a backstop; the wall-clock timeout comes first


def process_limit(limits: Limits) -> int:
    """RLIMIT_NPROC for one grading run. The kernel counts every process and thread of the
    real user id, and a user namespace does not change whose they are. As root each slot
    runs as a user id of its own, so the allowance is the student's alone. Otherwise the
    grader's user (an instructor's desktop: a browser alone runs hundreds of threads) is
    already counted, so the limit is what that user runs now plus the allowance (measured: 150
    `sleep`s of the grader's user made every submission score 0 with a plain 128)."""
    if os.geteuid() == 0:
        return limits.processes
    return _tasks_of(os.getuid()) + limits.processes


def _tasks_of(uid: int) -> int:
    """Processes and threads whose real user id is ``uid`` (what RLIMIT_NPROC counts)."""
    tasks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                tasks += int(fields["Threads"])
        except (OSError, KeyError, ValueError):  # gone already, or not a process
            continue
    return tasks


def _prlimit(limits: Limits) -> list[str]:
    return [
        "prlimit",
        f"--as={limits.memory_bytes}",
        f"--nproc={process_limit(limits)}",
        f"--fsize={limits.file_bytes}",
        f"--cpu={limits.cpu_seconds}",
        "--core=0",
        "--",
    ]


def sandbox_uid(slot: int | None) -> int:
    """The user id student code runs as when the grader is root: per slot of this grader
    process (below 1,917,000,000), else nobody."""
    if slot is None:
        return NOBODY
    return SLOT_UID_BASE + (os.getpid() % 2**16) * SLOTS_PER_BATCH + slot % SLOTS_PER_BATCH


def _drop_root(slot: int | None = None) -> list[str]:
    if os.geteuid() != 0:
        return []
    uid = sandbox_uid(slot)
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--",
    ]


def python() -> str:
    """The interpreter the sandbox runs: this virtualenv's, reached through its *resolved*
    folder. A ``.venv`` that is a symlink (or a relocated checkout) then needs no symlink
    inside the sandbox, where the link's own folder may be hidden (/tmp, /root)."""
    exe = Path(sys.executable)
    try:
        return str(Path(sys.prefix).resolve() / exe.absolute().relative_to(sys.prefix))
    except ValueError:  # not a virtualenv's interpreter: run it as the grader does
        return str(exe)


# Folders the sandbox replaces with empty tmpfs mounts (root's home holds credentials; /tmp
# is private to each student). The grader's own home is added by masked_folders().
MASKED = (Path("/root"), Path("/tmp"))


def masked_folders() -> tuple[Path, ...]:
    """MASKED and the home of the user running the grader. Not as root, student code runs as
    that user inside a user namespace and could read ~/.ssh or a token file and print it into
    the feedback the instructor hands back (measured before this: a cell printed the first
    line of a 600-mode file in the grader's home). A home that is a top-level folder (``/``,
    ``/home``: an odd HOME) is left alone: hiding it would hide the system."""
    home = Path(os.path.expanduser("~")).resolve()
    if len(home.parts) < 3 or home in MASKED:
        return MASKED
    return (*MASKED, home)


def _masked(path: Path) -> bool:
    return any(path.is_relative_to(m) for m in masked_folders())


def _needed_paths() -> set[Path]:
    """Everything the sandboxed Python must reach: its installation, the virtualenv, the
    repository and every folder on ``sys.path`` (a ``.pth`` file may add one). Not a masked
    folder itself: ``python -m course grade`` run from /tmp or from a home folder puts that
    folder on ``sys.path``, and binding it back would undo the mask (from /tmp, bwrap then
    failed: "Can't mkdir /tmp/job: Read-only file system")."""
    here = ROOT
    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(python()).parent, here}
    paths |= {Path(p) for p in sys.path if p and Path(p).is_absolute() and Path(p).exists()}
    masked = masked_folders()
    return {p.absolute() for p in paths if p.resolve() not in masked}


def _links_on_the_way(path: Path) -> list[tuple[Path, str]]:
    """The symbolic links met while resolving ``path``, as (link, its target text)."""
    links, current = [], Path("/")
    for part in path.parts[1:]:
        step = current / part
        if step.is_symlink():
            links.append((step, os.readlink(step)))
            current = step.resolve()
        else:
            current = step
    return links


def _readable_prefixes() -> list[str]:
    """Folders under a masked folder that the sandbox must still see, resolved: the Python
    installation (pyenv puts it in /root/.pyenv), the virtualenv and the repository (a CI
    checkout may live under /tmp). Binding resolved folders only: bwrap cannot bind onto a
    symlink that the bind it sits in already brought (a ``.venv`` symlink in a checkout)."""
    resolved = {p.resolve() for p in _needed_paths()}
    masked = sorted(p for p in resolved if _masked(p))
    # A folder inside another one in the list comes with it.
    return [str(p) for p in masked if not any(p != q and p.is_relative_to(q) for q in masked)]


def _symlinks_to_recreate(binds: list[str]) -> list[tuple[str, str]]:
    """(target, link) for the links under a masked folder that a needed path goes through
    and that no bind brings back (``/tmp/venv -> /work/venv`` used by ``sys.path``)."""
    out = set()
    for path in _needed_paths():
        for link, target in _links_on_the_way(path):
            if _masked(link) and not any(link.is_relative_to(b) for b in binds):
                out.add((target, str(link)))
    return sorted(out, key=lambda pair: pair[1])


def _make_parents(path: Path) -> list[str]:
    """bwrap would create the folders leading to ``path`` with mode 700, unreadable to
    nobody: create them 755 first."""
    cmd = []
    for parent in reversed(path.parents):
        if _masked(parent) and parent not in masked_folders():
            cmd += ["--perms", "0755", "--dir", str(parent)]
    return cmd


def _bwrap(workdir: Path, hide: list[Path], slot: int | None = None) -> list[str]:
    """bubblewrap arguments. As root, bwrap sets up the namespaces (no user namespace is
    needed) and ``setpriv`` drops to nobody *inside*; otherwise a user namespace is used."""
    if os.geteuid() == 0:
        cmd = [
            "bwrap",
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]
    else:
        cmd = ["bwrap", "--unshare-all"]
    cmd += [
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
    ]
    # Homes hold credentials: hide them, then bring back only what Python needs.
    for folder in masked_folders():
        if folder != Path("/tmp") and folder.is_dir():
            cmd += ["--tmpfs", str(folder)]
    binds = _readable_prefixes()
    for prefix in binds:
        cmd += _make_parents(Path(prefix)) + ["--ro-bind", prefix, prefix]
    for target, link in _symlinks_to_recreate(binds):
        cmd += _make_parents(Path(link)) + ["--symlink", target, link]
    for path in hide:
        if path.exists():
            cmd += ["--tmpfs", str(path)]
    cmd += ["--bind", str(workdir), JOB_DIR, "--chdir", JOB_DIR, "--"]
    return cmd + _drop_root(slot)


def _unshare() -> list[str]:
    return ["unshare", "--net", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc", "--"]


def _prefix(kind: str) -> list[str]:
    """The wrapper a probe tries for ``kind`` (a one-off command: user nobody when root)."""
    if kind == "bwrap":
        return _bwrap(Path("/tmp"), [])
    if kind == "unshare":
        return _unshare() + _drop_root()
    return _drop_root()


@functools.lru_cache(maxsize=None)
def try_wrapper(kind: str) -> str:
    """Run the grader's Python in wrapper ``kind`` once: "" when it works, else why not.

    Cached: the answer does not change during a run."""
    prefix = _prefix(kind)
    if prefix and shutil.which(prefix[0]) is None:
        return f"`{prefix[0]}` is not installed"
    if kind == "unshare" and os.geteuid() != 0:
        return "needs root"
    # Python itself, not `true`: pyenv installs under /root (mode 700) that `nobody`
    # cannot reach unless bwrap mounts them, and a sandbox that cannot run the grader's
    # Python is no sandbox at all. The version check catches a silent switch to another
    # interpreter (seen when the venv's symlink target is unreachable and the system
    # Python answers instead).
    # Reading nbval's sanitize file too: a checkout in a mode-700 folder hides it from the
    # sandboxed user, and every cell would then fail with no word to the student.
    check = (
        f"import sys, course, nbval; assert sys.version == {sys.version!r}, "
        "'another Python answered: ' + sys.executable + ' ' + sys.version; "
        f"open({str(SANITIZE)!r}).close()"
    )
    try:
        done = subprocess.run(
            prefix + [python(), "-c", check],
            capture_output=True,
            timeout=60,
            cwd="/",
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},  # as grading runs it (grade.py)
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{type(err).__name__}: {err}"
    if done.returncode == 0:
        return ""
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"exit {done.returncode}: {lines[-1] if lines else 'no message'}"


def _works(kind: str) -> bool:
    return try_wrapper(kind) == ""


UNSHARE_WARNING = (
    "WARNING: bubblewrap is unavailable; grading with `unshare` + `setpriv` (no network, own "
    "PID namespace, user nobody) but files readable by 'nobody' stay readable. Install "
    "bubblewrap (apt-get install bubblewrap)."
)
NONE_WARNING = (
    "WARNING: NO SANDBOX. Neither bubblewrap nor unshare works here. With --no-sandbox, student "
    "code runs with rlimits only, with network access, as {user}."
)


def run_as() -> str:
    """Who student code runs as outside a sandbox, in words."""
    if os.geteuid() == 0:
        return f"an unprivileged user id per job ({sandbox_uid(0)}, {sandbox_uid(1)}, ...)"
    return f"the user running the grader (uid {os.geteuid()}: it can kill the grader)"


def probe() -> tuple[str, str]:
    """Which isolation is available: ("bwrap" | "unshare" | "none", warning text or "")."""
    if _works("bwrap"):
        return "bwrap", ""
    if _works("unshare"):
        return "unshare", UNSHARE_WARNING
    return "none", NONE_WARNING.format(user=run_as())


def report() -> dict:
    """What the probe found, for the gradebook's run.json."""
    kind, warning = probe()
    return {
        "isolation": kind,
        "warning": warning,
        "tried": {k: try_wrapper(k) or "works" for k in ("bwrap", "unshare")},
        "student_code_runs_as": run_as()
        if os.geteuid() == 0 or kind == "none"
        else f"the grader's user (uid {os.geteuid()}) in a user namespace",
        "python": python(),
    }


def job_dir(workdir: Path) -> str:
    """Where the command sees the student's work folder (bwrap mounts it at JOB_DIR)."""
    return JOB_DIR if probe()[0] == "bwrap" else str(workdir)


def wrap(
    argv: list[str], workdir: Path, hide: list[Path], limits: Limits, slot: int | None = None
) -> list[str]:
    """The full command line running ``argv`` in the sandbox, ``workdir`` writable.

    slot: which parallel grading slot runs it (its own user id when root), or None.
    Without a sandbox ("none") the command still drops root (setpriv needs no namespace).
    """
    kind, _ = probe()
    if kind == "bwrap":  # bwrap's --die-with-parent: gone with the process that started it
        return _prlimit(limits) + _bwrap(workdir, hide, slot) + argv
    # The same for the others (the grading driver is killed at the timeout); a drop of root
    # after it clears it again, and reap() kills what is left by user id.
    die_with_parent = ["setpriv", "--pdeathsig", "KILL", "--"]
    if kind == "unshare":
        return _prlimit(limits) + die_with_parent + _unshare() + _drop_root(slot) + argv
    return _prlimit(limits) + die_with_parent + _drop_root(slot) + argv


def _processes_of(uid: int) -> list[int]:
    """Process ids whose real or effective user id is ``uid`` (read from /proc)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and _owned_by(int(entry.name), uid):
            pids.append(int(entry.name))
    return pids


def _owned_by(pid: int, uid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            line = next((l for l in fh if l.startswith("Uid:")), "Uid:")
    except OSError:  # gone already
        return False
    return str(uid) in line.split()[1:3]


def _kill_if_owned(pid: int, uid: int) -> None:
    """SIGKILL ``pid`` only if it still belongs to ``uid``: a pidfd pins the process, so a
    recycled process id can never make root kill a stranger."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if _owned_by(pid, uid):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def reap(slot: int | None) -> None:
    """As root: kill whatever the slot's user left running before that user id grades the
    next student, and wait until it is gone. Without a sandbox that is a daemon that escaped
    the process group; in one, the PID namespace kills everything when the sandbox ends, but
    not at once (a fork bomb's hundred processes take a moment), and until they are reaped
    they count against the next student's process limit. As a non-root grader there is no
    separate user, so nothing is done. Done by root from /proc rather than by a kill(-1) as
    that user, which the daemon itself could kill first."""
    if os.geteuid() != 0 or slot is None:
        return
    uid = sandbox_uid(slot)
    for _ in range(100):  # a forking process adds children while we kill: go round again
        pids = _processes_of(uid)
        if not pids:
            return
        for pid in pids:
            _kill_if_owned(pid, uid)
        time.sleep(0.01)


def prepare_workdir(workdir: Path, slot: int | None = None) -> None:
    """Make the student's work folder writable by the sandbox user (when root)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        uid = sandbox_uid(slot)
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, uid, uid)
