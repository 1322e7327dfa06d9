/// The Python script that creates a conda environment (a real conda prefix, with `conda-meta/`)
/// without a conda installation.
///
/// Shunter must build conda environments on machines that have no conda, mamba or micromamba,
/// and must not download a prebuilt solver binary. py-rattler (PyPI package `py-rattler`, the
/// Python bindings of the rattler crates that pixi and rattler-build use) brings a conda
/// solver, repodata gateway, package cache and installer as an ordinary wheel, so a Python
/// virtual environment with it (`scripts/setup-conda-tools.sh` makes `.venv-conda-tools`) is
/// all that is needed. Its API is async, hence the `asyncio.run`.
///
/// Contract: `<tools-python> shunter_rattler_create.py SPEC_JSON PREFIX`, where SPEC_JSON is a
/// file holding
/// `{"channels": [...], "dependencies": [...], "pip": [...], "channel_alias": "...", "platform": "linux-64"}`
/// (and optionally `"cache_dir"`: the package cache; default rattler's own, `RATTLER_CACHE_DIR`).
/// Channels are names (resolved against `channel_alias`), URLs (`https://…`, `file:///…`) or
/// absolute paths. Dependencies are conda MatchSpecs; `name=1.2` and `name==1.2` are accepted.
/// The first stdout line is `py-rattler <version>`, then progress lines.
/// Exit codes: 0 created; 2 the specs cannot be solved (stderr holds the solver's message, meant
/// for users); 3 a channel cannot be reached or read (stderr names the channel); 1 anything else
/// (traceback or pip's failure on stderr).
enum RattlerCreateScript {
    static let fileName = "shunter_rattler_create.py"
    static let source = #"""
        """Creates a conda environment at PREFIX from SPEC_JSON with py-rattler (no conda needed).

        Usage: python shunter_rattler_create.py SPEC_JSON PREFIX
        Exit codes: 0 ok, 2 unsolvable specs, 3 channel unreachable/unreadable, 1 anything else.
        Generated from Shunter's RattlerCreateScript.swift.
        """
        import asyncio
        import json
        import os
        import re
        import subprocess
        import sys
        import traceback
        from pathlib import Path

        EXIT_UNSOLVABLE = 2
        EXIT_CHANNEL = 3


        class Failure(Exception):
            def __init__(self, code, message):
                super().__init__(message)
                self.code = code
                self.message = message


        def say(line):
            print(line, flush=True)


        def resolve_channel(channel, alias):
            """conda channel name/URL/path -> URL string for rattler."""
            c = channel.strip()
            if "://" in c:
                return c.rstrip("/")
            if c.startswith(("/", "./", "../", "~")):
                return Path(os.path.expanduser(c)).resolve().as_uri()
            return alias.rstrip("/") + "/" + c.strip("/")


        _SIMPLE_EQ = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(==?)\s*([A-Za-z0-9_.+!*]+)$")


        def normalise_spec(spec):
            """`name=1.2` -> `name 1.2.*`, `name==1.2` -> `name ==1.2`; everything else unchanged
            (rattler's lenient MatchSpec parser reads the other conda forms itself)."""
            s = spec.strip()
            m = _SIMPLE_EQ.match(s)
            if not m:
                return s
            name, op, ver = m.groups()
            if op == "==":
                return f"{name} =={ver}"
            if ver.endswith("*"):
                return f"{name} {ver}"
            return f"{name} {ver}.*"


        async def create(spec, prefix):
            import rattler
            from rattler.exceptions import GatewayError, InvalidMatchSpecError, SolverError

            platform = spec.get("platform") or str(rattler.Subdir.current())
            alias = spec.get("channel_alias") or "https://conda.anaconda.org"
            channels = spec.get("channels") or []
            if not channels:
                raise Failure(EXIT_UNSOLVABLE, "no channels given")
            urls = [resolve_channel(c, alias) for c in channels]
            try:
                specs = [rattler.MatchSpec(normalise_spec(d), strict=False) for d in spec.get("dependencies") or []]
            except InvalidMatchSpecError as e:
                raise Failure(EXIT_UNSOLVABLE, str(e)) from e
            platforms = [platform, "noarch"]

            gateway = rattler.Gateway()
            # Read each channel on its own first, so that a failure names the channel; the gateway
            # keeps what it fetched for the solve below.
            for original, url in zip(channels, urls):
                try:
                    await gateway.query([url], platforms, specs or ["python"], recursive=False)
                except (GatewayError, OSError) as e:
                    raise Failure(EXIT_CHANNEL, f"cannot read conda channel '{original}' ({url}): {e}") from e

            if platform == str(rattler.Subdir.current()):
                virtual_packages = rattler.VirtualPackage.detect()
            else:
                virtual_packages = []
            say(f"solving {len(specs)} specs from channels {' '.join(urls)} for {platform}: "
                + ", ".join(str(s) for s in specs))
            try:
                records = await rattler.solve(
                    urls, specs, gateway=gateway, platforms=platforms, virtual_packages=virtual_packages
                )
            except SolverError as e:
                raise Failure(EXIT_UNSOLVABLE, str(e).strip()) from e
            except GatewayError as e:
                raise Failure(EXIT_CHANNEL, f"cannot read conda channels {' '.join(urls)}: {e}") from e

            records = sorted(records, key=lambda r: r.name.normalized)
            say(f"installing {len(records)} packages: "
                + " ".join(f"{r.name.normalized}-{r.version}-{r.build}" for r in records))
            cache_dir = spec.get("cache_dir")
            # py-rattler 0.28's install() hands requested_specs to its native part unconverted
            # ("'MatchSpec' object is not an instance of 'PyMatchSpec'"), so pass the native objects.
            # They land in conda-meta/*.json as requested_spec.
            requested = [getattr(s, "_match_spec", s) for s in specs]
            await rattler.install(
                records,
                target_prefix=prefix,
                cache_dir=Path(cache_dir) if cache_dir else None,
                platform=rattler.Subdir(platform),
                show_progress=False,
                requested_specs=requested,
            )


        def pip_install(prefix, reqs):
            python = prefix / "bin" / "python"
            if not python.exists():
                raise Failure(1, f"pip dependencies given but the environment has no python ({python}); add python to dependencies")
            env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
            env.pop("PYTHONPATH", None)
            env.pop("PYTHONHOME", None)
            own_pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True)
            version = own_pip.stdout.split()[1] if own_pip.returncode == 0 and own_pip.stdout.split()[1:] else "0"
            major_minor = tuple(int(x) for x in re.findall(r"\d+", version)[:2]) or (0,)
            if major_minor >= (22, 3):
                cmd = [sys.executable, "-m", "pip", "--python", str(python)]
            elif subprocess.run([str(python), "-c", "import pip"], capture_output=True).returncode == 0:
                cmd = [str(python), "-m", "pip"]
            else:
                raise Failure(1, "pip dependencies given, but neither this pip supports --python nor does the environment have pip")
            cmd += ["install", "--no-input", "--root-user-action=ignore", *reqs]
            say("pip install " + " ".join(reqs))
            r = subprocess.run(cmd, env=env)
            if r.returncode != 0:
                raise Failure(1, f"pip install failed (exit {r.returncode}): {' '.join(cmd)}")


        def main():
            if len(sys.argv) != 3:
                print("usage: shunter_rattler_create.py SPEC_JSON PREFIX", file=sys.stderr)
                return 1
            try:
                from importlib.metadata import version

                say(f"py-rattler {version('py-rattler')}")
                import rattler  # noqa: F401
            except Exception:
                traceback.print_exc()
                return 1
            try:
                spec = json.loads(Path(sys.argv[1]).read_text())
                prefix = Path(sys.argv[2]).absolute()
                asyncio.run(create(spec, prefix))
                reqs = [r for r in spec.get("pip") or [] if r.strip()]
                if reqs:
                    pip_install(prefix, reqs)
                say(f"created {prefix}")
                return 0
            except Failure as f:
                print(f.message, file=sys.stderr, flush=True)
                return f.code
            except Exception:
                traceback.print_exc()
                return 1


        if __name__ == "__main__":
            code = main()
            sys.stdout.flush()
            sys.stderr.flush()
            # Skip interpreter finalisation: py-rattler's native worker threads can still be running
            # then, and finalising under them crashes now and then (SIGSEGV/SIGABRT after success).
            os._exit(code)
        """#
}
