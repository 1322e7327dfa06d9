/// The warm parent for Python jobs (a fork server): started once per interpreter and
/// environment as `<interpreter> -c <source> <runner source>`, it imports Seamless through the
/// runner's own `_import_seamless` (and the modules Seamless imports lazily while it runs a
/// job), then keeps one child forked ahead (a spare), which has made itself a job's process
/// (own session, death signal tied to the parent, only the standard descriptors) and waits for
/// a job. A job's request goes to the spare, which takes the job's files, directory and
/// environment and runs the job's `runner.py` as `__main__`, as `<interpreter> runner.py <dir>`
/// would (with the runner's code compiled once by the parent when the file holds the same
/// text); the parent forks the next spare when that job has ended. The protocol is
/// `WarmParentMessage`'s.
enum PythonForkServerScript {
    static let source = #"""
        # Shunter's warm Python parent (a fork server). It imports what a job needs once (Seamless,
        # the runner's imports), then forks one child per job; every child runs the job's own
        # runner.py exactly as `<interpreter> runner.py <dir>` would, so a job sees a pristine
        # interpreter and the server itself never runs transformation code.
        #
        #   <interpreter> -c <this program> <runner source>
        #
        # A child is forked ahead of its job (the spare), when the previous job has ended: forking a
        # process this size and setting the child up is then done while the broker finishes the
        # previous job, not while the next one waits. The spare never ran anything but its set-up,
        # and runs exactly one job.
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
        import gc
        import importlib
        import json
        import select
        import signal
        import threading
        import traceback
        import types

        _PR_SET_PDEATHSIG = 1
        _libc = ctypes.CDLL(None, use_errno=True)
        _prctl = _libc.prctl  # resolved once, not in every child
        _server_pid = os.getpid()
        _jobs = {}  # pid -> (job id, report descriptor), for every job child not yet reaped
        _spare = None  # the child forked ahead: {"pid", "request", "report", "ready"}
        _wake = None  # the self-pipe SIGCHLD writes to
        # The runner as the broker sends it, and its code, compiled once: a job whose runner.py holds
        # the same text runs this code (with the job's path as its file name) instead of compiling it.
        _runner_source = b""
        _runner_code = None
        # What Seamless imports only inside the functions a job calls (parsing the input buffers,
        # serializing the result): every job would load them again from disk in its own child.
        _LAZY_IMPORTS = (
            "seamless.checksum",
            "seamless.checksum.cached_calculate_checksum",
            "seamless.checksum.calculate_checksum",
            "seamless.checksum.celltypes",
            "seamless.checksum.json_",
            "seamless.checksum.parse_buffer",
            "seamless.checksum.serialize",
            "seamless.util.mixed.io",
            "seamless.util.mixed.io.from_stream",
            "seamless.util.mixed.io.serialization",
            "seamless.util.mixed.io.to_stream",
            "seamless.util.mixed.io.util",
            "seamless.util.mixed.json_util",
        )


        def _send(message):
            data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
            while data:
                data = data[os.write(_control, data):]


        def _warm_up(runner_source):
            """Imports what every job imports, so that a child finds it in sys.modules."""
            global _runner_source, _runner_code
            namespace = {"__name__": "shunter_runner", "__file__": "runner.py"}
            try:
                code = compile(runner_source, "runner.py", "exec", dont_inherit=True)
                _runner_source, _runner_code = runner_source.encode(), code
                exec(code, namespace)
                namespace["_import_seamless"]()
            except Exception as exc:  # the job then fails as it would cold, with the runner's text
                return f"{type(exc).__name__}: {exc}"
            for name in _LAZY_IMPORTS:
                try:
                    importlib.import_module(name)
                except Exception:
                    pass  # another Seamless version: a job imports what it needs itself
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
            # What the imports left is never garbage a job could free: out of the collector's sight, a
            # collection in a child does not touch (and so copy) every page of the parent's objects.
            gc.collect()
            gc.freeze()


        def _thread_count():
            try:
                return len(os.listdir("/proc/self/task"))
            except OSError:
                return threading.active_count()


        def _with_file_name(code, name):
            consts = tuple(_with_file_name(c, name) if isinstance(c, types.CodeType) else c for c in code.co_consts)
            return code.replace(co_filename=name, co_consts=consts)


        def _read_all(fd):
            data = b""
            while True:
                try:
                    chunk = os.read(fd, 1 << 16)
                except InterruptedError:
                    continue
                if not chunk:
                    return data
                data += chunk


        def _child(request_fd, report):
            """In the forked child: becomes a job's process, waits for its job, runs its runner. Never
            returns."""
            os.setsid()
            # Dies with the server (which dies with the broker): the server is single-threaded, so
            # the "parent" this watches is the server process itself.
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != _server_pid:
                os._exit(137)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (_control, _wake[0], _wake[1]):
                os.close(fd)
            for name in os.listdir("/proc/self/fd"):
                fd = int(name)
                if fd > 2 and fd not in (request_fd, report):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            stdin = os.open(os.devnull, os.O_RDONLY)
            os.dup2(stdin, 0)
            os.close(stdin)
            os.write(report, b".")  # set up: the server may hand it a job
            data = _read_all(request_fd)
            os.close(request_fd)
            if not data:
                os._exit(0)  # the server stopped without a job for it
            request = json.loads(data)
            stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            stderr = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            for fd, target in ((stdout, 1), (stderr, 2)):
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
            path = sys.argv[0]
            with open(path, "rb") as f:
                source = f.read()
            if source == _runner_source and _runner_code is not None:
                code = _with_file_name(_runner_code, path)
            else:
                code = compile(source, path, "exec", dont_inherit=True)
            main = types.ModuleType("__main__")
            main.__dict__.update(__file__=path, __cached__=None, __loader__=None, __package__=None, __spec__=None)
            sys.modules["__main__"] = main
            os.close(report)  # set up for the job: what goes wrong from here is the job's
            status = 1
            try:
                exec(code, main.__dict__)
                status = 0
            except SystemExit as exit:
                if exit.code is None:
                    status = 0
                elif isinstance(exit.code, int):
                    status = exit.code & 0xFF
                else:
                    sys.stderr.write(f"{exit.code}\n")
            except BaseException as exc:
                # As the interpreter reports it for `python runner.py`: from the runner's own frame.
                traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(status)


        def _fork_spare():
            """Forks the next job's child; it reports on `report` once set up."""
            request_read, request_write = os.pipe()
            report_read, report_write = os.pipe()
            try:
                pid = os.fork()
            except OSError:
                for fd in (request_read, request_write, report_read, report_write):
                    os.close(fd)
                raise
            if pid == 0:
                try:
                    os.close(request_write)
                    os.close(report_read)
                    _child(request_read, report_write)
                except BaseException as exc:
                    try:
                        os.write(report_write, f"{type(exc).__name__}: {exc}".encode(errors="replace"))
                    finally:
                        os._exit(127)
            os.close(request_read)
            os.close(report_write)
            return {"pid": pid, "request": request_write, "report": report_read, "ready": False}


        def _close_spare():
            global _spare
            if _spare is not None:
                for fd in (_spare["request"], _spare["report"]):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                _spare = None


        def _take_spare():
            """The spare, set up; forks one first if there is none. Raises OSError for a fork that
            failed, RuntimeError for a child that could not set itself up."""
            global _spare
            if _spare is None:
                _spare = _fork_spare()
            spare = _spare
            if not spare["ready"]:
                while True:
                    try:
                        mark = os.read(spare["report"], 1)
                        break
                    except InterruptedError:
                        continue
                if mark != b".":
                    problem = (mark + _read_all(spare["report"])).decode(errors="replace")
                    _close_spare()  # it exits (or has exited) and is reaped as any child
                    raise RuntimeError(problem or "it ended before it was set up")
                spare["ready"] = True
            _spare = None
            return spare


        def _start(request, line):
            job = request["run"]
            for attempt in (0, 1):
                try:
                    spare = _take_spare()
                    break
                except OSError as exc:
                    _send({"failed": job, "error": f"fork: {exc.strerror}"})
                    return
                except RuntimeError as exc:
                    # A spare killed from outside while it waited: one more, freshly forked.
                    if attempt:
                        _send({"failed": job, "error": f"the job's process could not set itself up: {exc}"})
                        return
            pid = spare["pid"]
            _jobs[pid] = (job, spare["report"])
            try:
                data = line
                while data:
                    data = data[os.write(spare["request"], data):]
            except OSError as exc:
                # It died since it was set up: it is reaped, and reported as this job's end.
                _send({"failed": job, "pid": pid, "error": f"the job's process ended before it got the job ({exc.strerror})"})
                return
            finally:
                os.close(spare["request"])
            _send({"started": job, "pid": pid})


        def _fork_next_spare():
            global _spare
            if _spare is None:
                try:
                    _spare = _fork_spare()
                except OSError:
                    pass  # the next job forks its child itself, and reports what fails


        def _reap():
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return
                if pid == 0:
                    return
                if _spare is not None and pid == _spare["pid"]:
                    _close_spare()  # it died waiting; the next job forks another
                    continue
                entry = _jobs.pop(pid, None)
                if entry is None:
                    continue
                job, report = entry
                # A child that could not take its job wrote why (it exited, so this does not block).
                problem = _read_all(report)
                os.close(report)
                message = {"ended": job, "pid": pid, "status": status}
                if problem:
                    message["error"] = problem.decode(errors="replace")
                _send(message)
                # The next job's child is forked now, while the broker stores this job's result and
                # the client sends the next request: forked at the hand-over, it would take CPU from
                # the job that has just started.
                _fork_next_spare()


        def _signal(request):
            job, number = request["kill"], request["signal"]
            for pid, (known, _) in _jobs.items():
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
            pids = list(_jobs)
            if _spare is not None:
                pids.append(_spare["pid"])
            for pid in pids:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass


        def main():
            global _wake
            problem = _warm_up(sys.argv[1] if len(sys.argv) > 1 else "")
            _quiesce()
            _wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            signal.signal(signal.SIGCHLD, lambda *_: None)
            signal.set_wakeup_fd(_wake[1])
            _send({"ready": os.getpid(), "threads": _thread_count(), "problem": problem})
            pending = b""
            try:
                if problem is None:
                    _fork_next_spare()
                while True:
                    readable, _, _ = select.select([_control, _wake[0]], [], [])
                    if _wake[0] in readable:
                        try:
                            while os.read(_wake[0], 512):
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
                                _start(request, line + b"\n")
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
