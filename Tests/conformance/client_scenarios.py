"""Client-side scenarios beyond one transformation at a time, run in a fresh client process:

    python client_scenarios.py many URL --count 500 --nparallel 8 --out FILE
    python client_scenarios.py cancel URL --marker FILE --out FILE
    python client_scenarios.py conda URL --env NAME --count N --out FILE

`many`: the client's own throttled submission (`seamless_config.select_nparallel` +
`seamless.transformer.parallel`) of `count` distinct bash transformations.
`cancel`: a long job is started, then cancelled with the client's `Transformation.cancel()`.
`conda`: a Python transformation using numpy, in conda environment NAME
(`transformer.environment.set_conda_env`), with `count` as its input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def connect(url):
    import seamless  # noqa: F401
    from seamless_config.extern_clients import set_remote_clients
    from seamless_config.select import select_execution
    from seamless_remote import jobserver_remote

    set_remote_clients({"buffer": [{"readonly": False, "url": url}], "database": [{"readonly": False, "url": url}]})
    select_execution("remote")
    jobserver_remote.define_extern_client("js", "jobserver", url=url)
    jobserver_remote.activate(no_main=True, extern_clients=["js"])


def many(args):
    """At most `nparallel` transformations in flight, each awaited with the client's own
    `Transformation.computation()`.

    Not `seamless.transformer.parallel()`: with more than one transformation in flight, that
    deadlocks inside the 1.4.3 client whatever the server (see docs/seamless-client.md): each
    remote run starts with `buffer_writer.flush()`, which closes the buffer client's sessions
    while another transformation downloads its result through them; the failed download
    restarts the client, and the next flush re-initializes it with a blocking wait on the very
    event loop it runs on. Here no result is downloaded while others run: results are compared
    by checksum, and the input buffers are uploaded before the first submission."""
    import asyncio

    from seamless import Buffer
    from seamless.caching import buffer_writer
    from seamless.util.get_event_loop import get_event_loop

    from cases import bash

    transformations = [bash("echo $(( a * 3 + 1 )) > RESULT", "int", a=("int", i)) for i in range(args.count)]
    buffer_writer.flush()
    expected = [Buffer(i * 3 + 1, "int").get_checksum() for i in range(args.count)]
    limit = asyncio.Semaphore(args.nparallel)
    in_flight = 0
    most_in_flight = 0

    async def one(tf):
        nonlocal in_flight, most_in_flight
        async with limit:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            try:
                return await tf.computation()
            finally:
                in_flight -= 1

    async def all_of_them():
        return await asyncio.gather(*(one(tf) for tf in transformations), return_exceptions=True)

    started = time.monotonic()
    checksums = get_event_loop().run_until_complete(all_of_them())
    wrong = [
        {"index": index, "got": str(checksum), "error": str(tf.exception)[:2000]}
        for index, (tf, checksum) in enumerate(zip(transformations, checksums))
        if checksum != expected[index]
    ]
    return {"seconds": round(time.monotonic() - started, 2), "count": args.count, "wrong": wrong,
            "most_in_flight": most_in_flight}


def cancel(args):
    import threading

    from cases import bash

    # The job records the pid of its long-running child, then waits for it.
    tf = bash("sleep 300 & echo $! > \"$marker\"; wait; echo done > RESULT", "text", marker=("str", args.marker))
    computing = threading.Thread(target=tf.compute, daemon=True)
    computing.start()
    deadline = time.monotonic() + 60
    while not os.path.exists(args.marker) or not open(args.marker).read().strip():
        if time.monotonic() > deadline:
            return {"error": "the job never started (no marker file after 60 s)", "exception": str(tf.exception)}
        time.sleep(0.05)
    pid = int(open(args.marker).read())
    cancelled = tf.cancel()
    computing.join(timeout=30)
    return {"tf": tf.transformation_checksum.hex(), "pid": pid, "cancel_returned": bool(cancelled),
            "status": tf.status, "exception": str(tf.exception), "client_returned": not computing.is_alive()}


def spread(n):
    import numpy as np

    return (np.arange(n) ** 2).astype(np.float64) / 3


def conda(args):
    import numpy as np
    from seamless import Buffer
    from seamless.transformer import delayed

    transformer = delayed(spread)
    transformer.celltypes.n = "int"
    transformer.celltypes.result = "mixed"
    transformer.environment.set_conda_env(args.env)
    # The 1.4.3 client computes the __env__ buffer's checksum for a direct transformer
    # (pretransformation.py: `envbuf = Buffer(env, "plain")`) but never keeps nor uploads the
    # buffer, so no server (nor Seamless itself, locally) can read it: a CacheMissError. Keeping
    # it here, as the client does for compiled transformers (`_buffer_checksum_hex`), is the fix.
    Buffer(transformer.environment._to_lowlevel(), "plain").tempref()
    tf = transformer(args.count)
    tf.compute()
    # What the same function gives in this client's own Python (no environment), serialized by Seamless.
    expected = Buffer(spread(args.count), "mixed").get_checksum().hex()
    try:
        result = tf.result_checksum
    except Exception:  # a failed transformation: its text is in tf.exception
        result = None
    return {"tf": tf.transformation_checksum.hex(), "result": result.hex() if result else None,
            "expected": expected, "numpy": np.__version__, "exception": str(tf.exception)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["many", "cancel", "conda"])
    parser.add_argument("url")
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--nparallel", type=int, default=8)
    parser.add_argument("--marker")
    parser.add_argument("--env")
    args = parser.parse_args()
    connect(args.url)
    outcome = {"many": many, "cancel": cancel, "conda": conda}[args.scenario](args)
    with open(args.out, "w") as stream:
        json.dump(outcome, stream)
    import seamless

    seamless.close()


if __name__ == "__main__":
    main()
