"""Run untrusted Python in a sandbox: bubblewrap (the default), or by name the weaker rlimits-only mode.

`bwrap` mode gives the program its own user, PID, network, IPC, UTS and cgroup namespaces (no
network at all; it sees only its own processes), a read-only view of `/usr` and of the Python
installation, a private size-capped `/tmp` as its cwd and home, no host home, no trace db, no
ponder data dir, no inherited environment. It dies with its parent. Inside, before the program
runs, rlimits cap its CPU seconds, address space, file size and process count (in its own user
namespace the count is the sandbox's alone; when ponder runs as root, which rlimits exempt, a pids
cgroup caps it, or the sandbox runs as `nobody`). Output is read as it comes, up to a byte cap:
past it the program is stopped. On the wall timeout the whole process tree is killed (tearing
down the PID namespace kills every process in it, background ones included).

`rlimits` mode (chosen by name: `SandboxLimits(sandbox="rlimits")` or `PONDER_SANDBOX=rlimits`)
only runs `python -I` in a temp dir with a scrubbed environment and rlimits: it guards against
accidents, not against a program that wants out (it can use the network, read what the user can,
signal the user's processes, leave background processes that left its process group). Its
random temp dir is shown as `/tmp` in what the program prints, as under bwrap, so a traceback
reads the same on every run and in both modes.
"""

from __future__ import annotations

import contextlib
import functools
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from ponder.errors import ToolError
from ponder.tools._cgroup import PidsCgroup

SandboxMode = Literal["bwrap", "rlimits"]

BWRAP_MISSING = (
    "the python sandbox needs bubblewrap (bwrap), which is not installed: install it"
    " (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), or opt in to the"
    " weaker rlimits-only sandbox by name with PONDER_SANDBOX=rlimits (no network, file or process isolation)"
)
SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
NOBODY = 65534
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives")

# Runs inside the sandbox before the program: set the limits, then become the program.
# (In bwrap's new user namespace RLIMIT_NPROC counts the sandbox's own processes only.)
_PRELUDE = """\
import os, resource, sys
cpu, mem, fsize, nproc = (int(x) for x in sys.argv[1:5])
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if nproc:
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
os.execv(sys.executable, [sys.executable, "-I", "-B", *sys.argv[5:]])
"""


class SandboxLimits(BaseModel):
    """Limits of one sandboxed run.

    memory_mb: address space (RLIMIT_AS). max_output: characters of stdout/stderr returned.
    max_output_bytes: bytes read from the program before it is stopped (nothing past it is buffered).
    max_processes: processes the program may have at once (bwrap mode). tmp_mb: size of its /tmp.
    sandbox: "bwrap", or "rlimits" to opt in to the weaker mode; None: $PONDER_SANDBOX, else "bwrap".
    """

    timeout_s: float = Field(default=10.0, gt=0)
    cpu_s: int = Field(default=10, ge=1)
    memory_mb: int = Field(default=512, ge=32)
    max_output: int = Field(default=8000, ge=100)
    max_output_bytes: int = Field(default=1_000_000, ge=1000)
    max_processes: int = Field(default=64, ge=4, le=4096)
    tmp_mb: int = Field(default=64, ge=1)
    sandbox: SandboxMode | None = None

    def mode(self) -> SandboxMode:
        """The sandbox this run uses: the field, else `$PONDER_SANDBOX`, else bwrap."""
        if self.sandbox is not None:
            return self.sandbox
        env = os.environ.get("PONDER_SANDBOX", "").strip().lower()
        if env in ("", "bwrap"):
            return "bwrap"
        if env == "rlimits":
            return "rlimits"
        raise ToolError(f"PONDER_SANDBOX={env!r} is not a sandbox; use bwrap (the default) or rlimits")


class ExecResult(BaseModel):
    """What a sandboxed run did. `output_exceeded`: it printed past `max_output_bytes` and was stopped."""

    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    timed_out: bool = False
    output_exceeded: bool = False
    sandbox: SandboxMode = "bwrap"

    @property
    def ok(self) -> bool:
        """True when the program exited 0 within its limits."""
        return self.returncode == 0 and not self.timed_out and not self.output_exceeded

    def explain(self, limits: SandboxLimits) -> str:
        """Why it failed, in a line: timeout, a limit, an exception, a signal."""
        if self.timed_out:
            return f"timed out after {limits.timeout_s} s (wall clock)"
        if self.output_exceeded:
            return f"printed more than {limits.max_output_bytes} bytes; stopped"
        rc = self.returncode
        # a signal: -N from a direct child (rlimits mode), 128 + N from bwrap, which relays its child's death
        sig_no = 0
        if rc is not None and rc < 0:
            sig_no = -rc
        elif rc is not None and self.sandbox == "bwrap" and 128 < rc < 160:
            sig_no = rc - 128
        if sig_no:
            sig = signal.Signals(sig_no).name if sig_no in signal.Signals._value2member_map_ else str(sig_no)
            if sig in ("SIGXCPU", "SIGKILL"):
                return f"killed by {sig} (CPU limit {limits.cpu_s} s)"
            return f"killed by {sig}"
        tail = self.stderr.strip().splitlines()[-1:] or [f"exit code {rc}"]
        if "MemoryError" in self.stderr:
            return f"MemoryError (memory limit {limits.memory_mb} MB)"
        return tail[0]


def bwrap_path() -> str | None:
    """Where `bwrap` is, or None."""
    return shutil.which("bwrap")


@functools.cache
def _bwrap_options(bwrap: str) -> frozenset[str]:
    try:
        out = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(w for w in (out.stdout + out.stderr).split() if w.startswith("--"))


def _interpreter() -> str:
    return os.path.realpath(sys.executable)


def _python_roots(interp: str) -> list[str]:
    """Directories of the Python installation the sandbox must see (outside /usr)."""
    roots = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    roots.add(os.path.dirname(os.path.dirname(interp)))
    return sorted(r for r in roots if not (r == "/usr" or r.startswith("/usr/")) and r != "/")


def _world_readable(path: str) -> bool:
    """True when a user other than the owner can reach `path` (every directory above it searchable)."""
    p = Path(path)
    for d in [*reversed(p.parents), p]:
        try:
            mode = d.stat().st_mode
        except OSError:
            return False
        if not mode & 0o001:
            return False
    return True


def _bwrap_argv(bwrap: str, lim: SandboxLimits, host_dir: str, interp: str, *, root: bool) -> list[str]:
    opts = _bwrap_options(bwrap)
    argv = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]
    if root:
        argv += ["--uid", str(NOBODY), "--gid", str(NOBODY)]
    if "--disable-userns" in opts:
        argv.append("--disable-userns")
    argv += ["--cap-drop", "ALL", "--clearenv"]
    for k, v in {**SAFE_ENV, "HOME": "/tmp", "TMPDIR": "/tmp"}.items():
        argv += ["--setenv", k, v]
    argv += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for f in _ETC_FILES:
        argv += ["--ro-bind-try", f, f]
    for r in _python_roots(interp):
        argv += ["--ro-bind", r, r]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    if "--size" in opts:
        argv += ["--size", str(lim.tmp_mb * 1024 * 1024)]
    argv += ["--tmpfs", "/tmp", "--ro-bind", os.path.join(host_dir, "main.py"), "/tmp/main.py", "--chdir", "/tmp"]
    return argv


def _rlimit_args(lim: SandboxLimits, nproc: int) -> list[str]:
    return [str(lim.cpu_s), str(lim.memory_mb * 1024 * 1024), str(16 * 1024 * 1024), str(nproc)]


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[:n] + f"\n… ({len(s) - n} more characters)"


def _fixed_paths(host_dir: str) -> Callable[[str], str]:
    """Rewrite the rlimits run's random temp dir as `/tmp`, the fixed path bwrap mode shows.

    What a program prints (a traceback's `File ".../main.py"`) reaches a model's prompt as test
    feedback; a path that changes on every run would make every recorded code run unreplayable.
    """
    names = sorted({host_dir, os.path.realpath(host_dir)}, key=len, reverse=True)

    def fixed(text: str) -> str:
        for name in names:
            text = text.replace(name, "/tmp")
        return text

    return fixed


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    # bwrap's own session/group: killing it makes the sandbox's pid 1 die (die-with-parent),
    # which ends every process in the PID namespace
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def _collect(proc: subprocess.Popen[bytes], lim: SandboxLimits, stdin: bytes) -> tuple[bytes, bytes, bool, bool]:
    """Read stdout/stderr as they come until both close, the deadline passes or the output cap is hit."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    with contextlib.suppress(BrokenPipeError, OSError):
        if stdin:
            proc.stdin.write(stdin)
        proc.stdin.close()
    deadline = time.monotonic() + lim.timeout_s
    bufs: dict[int, bytearray] = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    total, timed_out, exceeded = 0, False, False
    with selectors.DefaultSelector() as sel:
        sel.register(out_fd, selectors.EVENT_READ)
        sel.register(err_fd, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            for key, _ in sel.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                room = lim.max_output_bytes - total
                bufs[key.fd] += chunk[:room]
                total += len(chunk)
                if total > lim.max_output_bytes:
                    exceeded = True
                    break
            if exceeded:
                break
    return bytes(bufs[out_fd]), bytes(bufs[err_fd]), timed_out, exceeded


def run_python(code: str, limits: SandboxLimits | None = None, *, stdin: str = "") -> ExecResult:
    """Run `code` in the sandbox `limits` chooses (bubblewrap by default); never runs it in-process.

    Raises `ToolError` when bwrap mode is chosen and `bwrap` is not installed (saying how to install
    it, or how to opt in to the rlimits-only mode).
    """
    lim = limits or SandboxLimits()
    mode = lim.mode()
    bwrap = bwrap_path() if mode == "bwrap" else None
    if mode == "bwrap" and bwrap is None:
        raise ToolError(BWRAP_MISSING)
    interp = _interpreter()
    cgroup: PidsCgroup | None = None
    host_dir = tempfile.mkdtemp(prefix="ponder-py-")
    try:
        script = os.path.join(host_dir, "main.py")
        with open(script, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(code)
        preexec: Callable[[], None] | None
        if bwrap is not None:
            root = os.geteuid() == 0
            nproc = lim.max_processes
            drop = False
            if root:  # rlimits do not bind root: a pids cgroup does, else run as nobody
                cgroup = PidsCgroup.create(lim.max_processes)
                if cgroup is None:
                    drop = True
                    if not _world_readable(interp):
                        raise ToolError(
                            f"the python sandbox runs as nobody here (root, and no pids cgroup to create),"
                            f" and nobody cannot read the interpreter {interp}; run ponder as a normal user"
                            " or give it a Python that others can read"
                        )
                    os.chmod(host_dir, 0o755)
                    os.chmod(script, 0o644)
            argv = _bwrap_argv(bwrap, lim, host_dir, interp, root=root and not drop)
            argv += ["--", interp, "-I", "-B", "-S", "-c", _PRELUDE, *_rlimit_args(lim, nproc), "/tmp/main.py"]
            preexec = _bwrap_preexec(cgroup, drop)
            cwd, env = "/", dict(SAFE_ENV)
        else:
            argv = [interp, "-I", "-B", "-S", "-c", _PRELUDE, *_rlimit_args(lim, 0), script]
            preexec = None
            cwd, env = host_dir, {**SAFE_ENV, "HOME": host_dir, "TMPDIR": host_dir}
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=preexec,
            pass_fds=(cgroup.procs_fd,) if cgroup else (),
            start_new_session=True,  # its own process group: the timeout kills the group
        )
        try:
            out, err, timed_out, exceeded = _collect(proc, lim, stdin.encode("utf-8", "replace"))
        finally:
            if proc.poll() is None:
                _kill_tree(proc)
            else:
                _kill_tree(proc)  # rlimits mode: children left in its group
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        fixed = _fixed_paths(host_dir) if bwrap is None else lambda text: text
        return ExecResult(
            stdout=_clip(fixed(out.decode("utf-8", "replace")), lim.max_output),
            stderr=_clip(fixed(err.decode("utf-8", "replace")), lim.max_output),
            returncode=None if timed_out or exceeded else proc.returncode,
            timed_out=timed_out,
            output_exceeded=exceeded,
            sandbox=mode,
        )
    finally:
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(host_dir, ignore_errors=True)


def _bwrap_preexec(cgroup: PidsCgroup | None, drop: bool) -> Callable[[], None] | None:
    if cgroup is None and not drop:
        return None

    def preexec() -> None:  # between fork and exec: plain system calls only
        if cgroup is not None:
            cgroup.join()
        if drop:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)

    return preexec


__all__ = ["BWRAP_MISSING", "ExecResult", "SandboxLimits", "SandboxMode", "bwrap_path", "run_python"]
