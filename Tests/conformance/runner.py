"""Computes conformance cases with the real Seamless client in one of its execution modes.

    python runner.py local  --out FILE [--cases a,b]                 # Seamless runs them itself
    python runner.py remote --out FILE --jobserver URL --buffer URL --database URL
    python runner.py profile --out FILE --project-dir DIR            # seamless.config.init()

Each mode runs in a fresh process, so nothing is cached between the two runs of a case. The
output maps each case to {"tf": checksum, "result": checksum or null, "error": text or null}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def configure(args):
    import seamless  # noqa: F401

    if args.mode == "local":
        from seamless_config.select import select_execution

        select_execution("process")
    elif args.mode == "remote":
        from seamless_config.extern_clients import set_remote_clients
        from seamless_config.select import select_execution
        from seamless_remote import jobserver_remote

        set_remote_clients({
            "buffer": [{"readonly": False, "url": args.buffer}],
            "database": [{"readonly": False, "url": args.database}],
        })
        select_execution("remote")
        jobserver_remote.define_extern_client("js", "jobserver", url=args.jobserver)
        jobserver_remote.activate(no_main=True, extern_clients=["js"])
    elif args.mode == "profile":
        import seamless.config

        os.chdir(args.project_dir)
        seamless.config.init(workdir=args.project_dir)
    else:
        raise SystemExit(f"unknown mode {args.mode}")


def run_case(case):
    started = time.monotonic()
    entry = {"tf": None, "result": None, "error": None}
    try:
        tf = case.build()
        checksum = tf.compute()
        try:
            entry["tf"] = tf.transformation_checksum.hex()
        except Exception:
            pass
        if checksum is not None:
            entry["result"] = checksum.hex()
        else:
            entry["error"] = str(tf.exception)
    except Exception:
        entry["error"] = "exception while building or computing: " + traceback.format_exc()
    entry["seconds"] = round(time.monotonic() - started, 3)
    return entry


def hung(name, results, write):
    import faulthandler

    print(f"[runner] {name}: the client hung; its threads:", flush=True)
    faulthandler.dump_traceback(all_threads=True)
    results[name] = {"tf": None, "result": None, "error": None, "hung": True}
    write()
    os._exit(3)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["local", "remote", "profile"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--jobserver")
    parser.add_argument("--buffer")
    parser.add_argument("--database")
    parser.add_argument("--project-dir")
    parser.add_argument("--case-timeout", type=float, default=90)
    args = parser.parse_args()

    from cases import CASES

    names = args.cases.split(",") if args.cases else list(CASES)
    configure(args)
    results = {}

    def write():
        with open(args.out, "w", encoding="utf-8") as stream:
            json.dump(results, stream, indent=1, ensure_ascii=False)

    for name in names:
        print(f"[runner] {name} ...", flush=True)
        # The Seamless client can deadlock in buffer_writer.flush() after it restarted a buffer
        # client (seen with the Python hashserver). A case that hangs is reported as such and
        # this process ends, so that the caller can go on in a fresh client process.
        watchdog = threading.Timer(args.case_timeout, hung, (name, results, write))
        watchdog.start()
        results[name] = run_case(CASES[name])
        watchdog.cancel()
        print(f"[runner] {name}: {results[name]['seconds']} s", flush=True)
    write()

    import seamless

    seamless.close()


if __name__ == "__main__":
    main()
