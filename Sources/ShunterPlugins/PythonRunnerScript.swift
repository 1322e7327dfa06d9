/// The Python program that runs one transformation with Seamless's own code. It is embedded
/// here (rather than shipped as a resource file) so that the `shunter` binary is the whole
/// installation, and is written into each job's directory so that the directory is
/// self-contained: a human (or a batch node) can re-run the job from its `work/` directory
/// with `<interpreter> ../python/runner.py ../python`.
enum PythonRunnerScript {
    static let fileName = "runner.py"

    static let source = #"""
        # Shunter's Python runner: executes ONE Seamless transformation with Seamless's own code, so
        # that the result buffer (and the error text) are exactly what Seamless's jobserver gives.
        #
        #   <interpreter> runner.py <job python directory>
        #
        # The directory holds transformation.json ({"transformation_dict", "tf_checksum",
        # "tf_dunder"}) and buffers/<checksum> (every input buffer, written by Shunter). The runner
        # writes `result` (the result buffer, serialized for the output celltype by Seamless) and
        # exits 0, or writes `error` (the text Seamless's jobserver would answer) and exits 1.
        # Exit 3: this interpreter cannot run Seamless at all (`error` says why).
        import os
        import sys

        if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
            # The script's own directory holds the job's files, not modules a transformation imports.
            del sys.path[0]


        def _write_atomically(path, data):
            with open(path + ".part", "wb") as f:
                f.write(data)
            os.replace(path + ".part", path)


        def _finish(code):
            sys.stdout.flush()
            sys.stderr.flush()
            # Skip interpreter teardown: Seamless's atexit hook only reports that it was not closed.
            os._exit(code)


        def _import_seamless():
            """Seamless from this interpreter, else from the broker's Seamless installation.

            A job in a conda environment runs with that environment's interpreter, which normally
            lacks Seamless. Shunter then names (SHUNTER_SEAMLESS_PATH) the site-packages of the
            Python that has it; they are appended to sys.path, after the environment's own, so the
            environment's packages (numpy, ...) win and Seamless's code fills the gap. Compiled
            modules only load in the same Python version (SHUNTER_SEAMLESS_PYTHON).
            """
            try:
                from seamless import Buffer, Checksum
                from seamless_transformer.worker import _execute_transformation_request
                return Buffer, Checksum, _execute_transformation_request
            except ImportError:
                paths = os.environ.get("SHUNTER_SEAMLESS_PATH")
                if not paths:
                    raise
            version = "%d.%d" % sys.version_info[:2]
            wanted = os.environ.get("SHUNTER_SEAMLESS_PYTHON", version)
            if wanted != version:
                raise ImportError(
                    f"this environment has Python {version}, Shunter's Seamless installation is for Python {wanted}: "
                    "add seamless-suite to the environment (its pip section), or use Python " + wanted
                )
            for path in paths.split(os.pathsep):
                if path and path not in sys.path:
                    sys.path.append(path)
            for name in [m for m in sys.modules if m == "seamless" or m.startswith(("seamless.", "seamless_"))]:
                del sys.modules[name]
            from seamless import Buffer, Checksum
            from seamless_transformer.worker import _execute_transformation_request
            return Buffer, Checksum, _execute_transformation_request


        def main(directory):
            import json

            with open(os.path.join(directory, "transformation.json"), "rb") as f:
                request = json.load(f)
            try:
                Buffer, Checksum, _execute_transformation_request = _import_seamless()
            except Exception as exc:  # ImportError, or a broken installation
                message = (
                    "Shunter's Python runner cannot import Seamless with the interpreter "
                    f"{sys.executable}: {type(exc).__name__}: {exc}\n"
                )
                _write_atomically(os.path.join(directory, "error"), message.encode())
                _finish(3)
            import hashlib

            # Every input buffer is in Seamless's buffer cache before the transformation asks for it:
            # Checksum.resolve() then finds it there, as it would find a buffer the client holds.
            inputs = []
            buffer_directory = os.path.join(directory, "buffers")
            for name in sorted(os.listdir(buffer_directory)):
                with open(os.path.join(buffer_directory, name), "rb") as f:
                    inputs.append(Buffer(f.read(), checksum=name))

            # run_transformation_dict hands the result buffer to Buffer.tempref (to keep it for
            # resolve()); catching it there gives the very bytes Seamless serialized. Seamless's own
            # worker processes replace these two methods in the same way.
            kept = {}

            def keep(self, *args, **kwargs):
                kept[self.get_checksum().hex()] = self

            Buffer.tempref = keep
            Checksum.tempref = lambda self, *args, **kwargs: None

            outcome = _execute_transformation_request(
                {
                    "transformation_dict": request["transformation_dict"],
                    "tf_checksum": request["tf_checksum"],
                    "tf_dunder": request.get("tf_dunder") or {},
                    "scratch": False,
                }
            )
            if isinstance(outcome, str):
                _write_atomically(os.path.join(directory, "error"), outcome.encode("utf-8", "replace"))
                _finish(1)
            checksum = Checksum(outcome).hex()
            result = kept.get(checksum)
            if result is not None:
                content = result.content
            elif checksum == hashlib.sha256(b"").hexdigest():
                content = b""  # an empty buffer is never kept by Seamless
            else:
                message = f"Shunter's Python runner: Seamless returned result {checksum} but not its buffer\n"
                _write_atomically(os.path.join(directory, "error"), message.encode())
                _finish(2)
            _write_atomically(os.path.join(directory, "result"), content)
            _finish(0)


        if __name__ == "__main__":
            if len(sys.argv) != 2:
                sys.stderr.write("usage: runner.py <job directory>\n")
                sys.exit(2)
            main(sys.argv[1])
        """#
}
