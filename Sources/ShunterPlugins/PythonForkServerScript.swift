/// The warm parent for Python jobs (a fork server): started once per interpreter and
/// environment as `<interpreter> -c <source> <runner source>`, it imports Seamless through the
/// runner's own `_import_seamless`, then forks one child per job. Each child makes itself the
/// job's process (own session, death signal tied to the parent, only the standard descriptors,
/// the job's files, directory and environment) and runs the job's `runner.py` as `__main__`,
/// as `<interpreter> runner.py <dir>` would. The protocol is `WarmParentMessage`'s.
enum PythonForkServerScript {
    static let source = #"""
# Shunter's warm Python parent (a fork server). It imports what a job needs once (Seamless,
# the runner's imports), then forks one child per job; every child runs the job's own
# runner.py exactly as `<interpreter> runner.py <dir>` would, so a job sees a pristine
# interpreter and the server itself never runs transformation code.
#
#   <interpreter> -c <this program> <runner source>
#
# Each job's child runs `sys.argv[0]` of its request (the job's runner.py) as `__main__`.
#
# Standard output is the control socket to the broker (one JSON object per line each way);
# standard error is the broker's. The server is single-threaded: forking a process that has
# other threads could leave a lock held forever in the child.
import os
import sys

_control = os.dup(1)
os.set_inheritable(_control, False)
_null = os.open(os.devnull, os.O_WRONLY)
os.dup2(_null, 1)  # nothing printed at import time may reach the protocol
os.close(_null)
if sys.path and sys.path[0] == "":
    # `-c` put the working directory first; `python runner.py` puts the runner's directory
    # there, which the runner removes: either way the job's sys.path starts without it.
    del sys.path[0]

import ctypes
import errno
import json
import runpy
import select
import signal
import threading
import traceback

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_server_pid = os.getpid()
_jobs = {}  # pid -> job id, for every child not yet reaped


def _send(message):
    data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
    while data:
        data = data[os.write(_control, data):]


def _warm_up(runner_source):
    """Imports what every job imports, so that a child finds it in sys.modules."""
    namespace = {"__name__": "shunter_runner", "__file__": "runner.py"}
    try:
        exec(compile(runner_source, "runner.py", "exec"), namespace)
        namespace["_import_seamless"]()
    except Exception as exc:  # the job then fails as it would cold, with the runner's text
        return f"{type(exc).__name__}: {exc}"
    return None


def _quiesce():
    """Stops the threads that imports started: forking a process with other threads is unsafe."""
    writer = sys.modules.get("seamless.caching.buffer_writer")
    if writer is not None:
        try:
            # Seamless's background buffer writer; a job starts its own again when it needs one.
            writer._stop_worker()
        except Exception:
            traceback.print_exc()
    # OpenBLAS (numpy) stops its thread pool before a fork and starts it again when next used:
    # one fork that exits at once leaves this process with none.
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def _thread_count():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _child(request, report, wake):
    """In the forked child: becomes the job's process, then runs its runner. Never returns."""
    os.setsid()
    # Dies with the server (which dies with the broker): the server is single-threaded, so
    # the "parent" this watches is the server process itself.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _server_pid:
        os._exit(137)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in (_control, wake[0], wake[1]):
        os.close(fd)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd != report:
            try:
                os.close(fd)
            except OSError:
                pass
    stdin = os.open(os.devnull, os.O_RDONLY)
    stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    stderr = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    if "numpy.random" in sys.modules:
        # A cold interpreter seeds numpy's global generator from the OS; a fork would share
        # the server's. (`random` reseeds itself after a fork.)
        sys.modules["numpy.random"].seed()
    sys.argv = list(request["argv"])
    os.close(report)  # the server reports the job started
    code = 1
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
        code = 0
    except SystemExit as exit:
        if exit.code is None:
            code = 0
        elif isinstance(exit.code, int):
            code = exit.code & 0xFF
        else:
            sys.stderr.write(f"{exit.code}\n")
    except BaseException:
        traceback.print_exc()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _start(request, wake):
    job = request["run"]
    report_read, report_write = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(report_read)
        os.close(report_write)
        _send({"failed": job, "error": f"fork: {exc.strerror}"})
        return
    if pid == 0:
        try:
            os.close(report_read)
            _child(request, report_write, wake)
        except BaseException as exc:
            try:
                os.write(report_write, f"{type(exc).__name__}: {exc}".encode(errors="replace"))
            finally:
                os._exit(127)
    os.close(report_write)
    problem = b""
    while True:
        try:
            chunk = os.read(report_read, 4096)
        except InterruptedError:
            continue
        if not chunk:
            break
        problem += chunk
    os.close(report_read)
    _jobs[pid] = job
    if problem:
        _send({"failed": job, "pid": pid, "error": problem.decode(errors="replace")})
    else:
        _send({"started": job, "pid": pid})


def _reap():
    while _jobs:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        job = _jobs.pop(pid, None)
        if job is not None:
            _send({"ended": job, "pid": pid, "status": status})


def _signal(request):
    job, number = request["kill"], request["signal"]
    for pid, known in _jobs.items():
        if known == job:
            # Only a child not yet reaped: its pid (and group id) cannot have been reused.
            try:
                os.killpg(pid, number)
            except ProcessLookupError:
                pass
            except PermissionError:
                os.kill(pid, number)
            return


def _stop_jobs():
    for pid in list(_jobs):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def main():
    problem = _warm_up(sys.argv[1] if len(sys.argv) > 1 else "")
    _quiesce()
    wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake[1])
    _send({"ready": os.getpid(), "threads": _thread_count(), "problem": problem})
    pending = b""
    try:
        while True:
            readable, _, _ = select.select([_control, wake[0]], [], [])
            if wake[0] in readable:
                try:
                    while os.read(wake[0], 512):
                        pass
                except BlockingIOError:
                    pass
                _reap()
            if _control in readable:
                data = os.read(_control, 1 << 16)
                if not data:
                    return  # the broker is gone (or let this server go)
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    request = json.loads(line)
                    if "run" in request:
                        _start(request, wake)
                        _reap()
                    elif "kill" in request:
                        _signal(request)
                    elif "ping" in request:
                        _send({"pong": request["ping"], "jobs": len(_jobs)})
    finally:
        _stop_jobs()


if __name__ == "__main__":
    main()
"""#
}
