#!/usr/bin/env python3
"""Builds the small local conda channel that Shunter's conda-environment tests solve against.

Usage:
    build_test_channel.py OUTPUT_DIR [--cache-dir DIR] [--self-test]
    build_test_channel.py OUTPUT_DIR --self-test-only

No conda channel is reachable from the machines this project runs on, and no conda-build /
rattler-build is available, so the packages are assembled here as plain `.tar.bz2` conda
packages (info/index.json, info/paths.json, info/files + the payload) and indexed with
py-rattler's indexer (`rattler.index.index_fs`). Run it with a Python that has py-rattler
(scripts/setup-conda-tools.sh does that).

Packages:
  * python <X.Y.Z> (linux-64): a REPACK of the CPython that runs this script (sys.base_prefix):
    bin/pythonX.Y (+ python3, python symlinks), libpython if shared (RUNPATH rewritten to
    $ORIGIN/../lib so the prefix is relocatable), the standard library without tests, idle,
    tkinter, ensurepip, lib2to3, __pycache__ and without the site-packages contents.
    Extension modules still link the machine's system libraries (libssl, libsqlite3, ...).
    It is not a conda-forge build.
  * numpy <NUMPY_VERSION> (linux-64): the manylinux wheel unpacked into site-packages,
    depends on `python X.Y.*`.
  * shunter-probe 1.0 and 2.0 (noarch: generic): bin/shunter-probe, a bash script printing
    `shunter-probe <version>`, `CONDA_PREFIX=<$CONDA_PREFIX>` and `installed-in <prefix>`
    (the last one through conda's text prefix replacement).

--self-test solves `python X.Y.*` + `numpy` from the channel with py-rattler, installs into a
temporary prefix, imports numpy there and checks that an unsolvable spec fails.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

NUMPY_VERSION = "2.2.6"
PROBE_VERSIONS = ("1.0", "2.0")
BUILD_STRING = "h_shunter_0"
# bz2 block size 1..9; level barely changes speed, 1 uses least memory. Payload is ~80 MB.
BZ2_LEVEL = 1
# conda's classic text placeholder; replaced by the target prefix at install time.
PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"

PYVER = f"{sys.version_info.major}.{sys.version_info.minor}"
PYVER_FULL = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"

STDLIB_SKIP_DIRS = {
    "site-packages", "test", "tests", "idle_test", "__pycache__", "idlelib", "tkinter",
    "turtledemo", "ensurepip", "lib2to3",
}
DYNLOAD_SKIP_PREFIXES = ("_test", "_xxtest", "_ctypes_test", "xxlimited", "_tkinter", "xxsubtype")


def log(msg: str) -> None:
    print(f"[build_test_channel] {msg}", flush=True)


# --------------------------------------------------------------------------- ELF RUNPATH


def set_elf_runpath(path: Path, new: bytes) -> bool:
    """Overwrites DT_RUNPATH/DT_RPATH of an ELF64 little-endian file in place with `new`
    (must not be longer than the old string; the rest is NUL-padded). Returns True if patched."""
    data = bytearray(path.read_bytes())
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    e_phoff, = struct.unpack_from("<Q", data, 0x20)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 0x36)
    loads, dynamic = [], None
    for i in range(e_phnum):
        off = e_phoff + i * e_phentsize
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from("<IIQQQQ", data, off)
        if p_type == 1:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 2:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return False
    strtab_vaddr, path_offsets = None, []
    for off in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, val = struct.unpack_from("<qQ", data, off)
        if tag == 0:
            break
        if tag == 5:  # DT_STRTAB
            strtab_vaddr = val
        elif tag in (15, 29):  # DT_RPATH, DT_RUNPATH
            path_offsets.append(val)
    if strtab_vaddr is None or not path_offsets:
        return False
    strtab = next(strtab_vaddr - v + o for v, o, sz in loads if v <= strtab_vaddr < v + sz)
    for rel in path_offsets:
        start = strtab + rel
        end = data.index(b"\0", start)
        if len(new) > end - start:
            raise RuntimeError(f"{path}: new RUNPATH longer than old one")
        data[start:end] = new + b"\0" * (end - start - len(new))
    path.write_bytes(bytes(data))
    return True


def strip_elf(path: Path) -> None:
    strip = shutil.which("strip")
    if strip:
        subprocess.run([strip, "--strip-unneeded", str(path)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --------------------------------------------------------------------------- package writer


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_package(stage: Path, out_dir: Path, index: dict, text_prefix: dict[str, str] | None = None) -> Path:
    """Writes `stage` (the payload, laid out as in a prefix) plus info/ as
    OUT_DIR/<name>-<version>-<build>.tar.bz2. `text_prefix` maps relative paths to the
    placeholder they contain (file_mode text)."""
    text_prefix = text_prefix or {}
    entries = []
    for root, dirs, files in os.walk(stage):
        dirs.sort()
        rootp = Path(root)
        # symlinks to directories are listed in dirs; treat them as files
        for name in sorted(files + [d for d in dirs if (rootp / d).is_symlink()]):
            p = rootp / name
            rel = p.relative_to(stage).as_posix()
            if p.is_symlink():
                entries.append({"_path": rel, "path_type": "softlink", "size_in_bytes": 0})
                continue
            entry = {"_path": rel, "path_type": "hardlink", "sha256": sha256_file(p),
                     "size_in_bytes": p.stat().st_size}
            if rel in text_prefix:
                entry["file_mode"] = "text"
                entry["prefix_placeholder"] = text_prefix[rel]
            entries.append(entry)
    entries.sort(key=lambda e: e["_path"])
    if any(e["_path"].startswith("info/") for e in entries):
        raise RuntimeError("payload must not contain info/")

    info = {
        "info/index.json": json.dumps(index, indent=2, sort_keys=True).encode(),
        "info/paths.json": json.dumps({"paths": entries, "paths_version": 1}, indent=2).encode(),
        "info/files": ("\n".join(e["_path"] for e in entries) + "\n").encode(),
        "info/about.json": json.dumps({"summary": "Shunter test-channel package (local build)",
                                       "license": index.get("license", "")}).encode(),
    }
    if text_prefix:
        info["info/has_prefix"] = "".join(f"{ph} text {rel}\n" for rel, ph in sorted(text_prefix.items())).encode()

    fn = f"{index['name']}-{index['version']}-{index['build']}.tar.bz2"
    target = out_dir / fn
    tmp = out_dir / (fn + ".part")
    mtime = int(time.time())

    def normalise(ti: tarfile.TarInfo) -> tarfile.TarInfo:
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti

    with tarfile.open(tmp, "w:bz2", compresslevel=BZ2_LEVEL, format=tarfile.PAX_FORMAT) as tar:
        for name, blob in info.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(blob), mtime, 0o644
            tar.addfile(ti, io.BytesIO(blob))
        for e in entries:
            tar.add(stage / e["_path"], arcname=e["_path"], recursive=False, filter=normalise)
    tmp.rename(target)
    return target


def base_index(name: str, version: str, build: str, depends: list[str], noarch: bool, license_: str) -> dict:
    index = {
        "name": name, "version": version, "build": build, "build_number": 0,
        "depends": depends, "license": license_, "timestamp": int(time.time() * 1000),
    }
    if noarch:
        index.update({"noarch": "generic", "subdir": "noarch"})
    else:
        index.update({"arch": "x86_64", "platform": "linux", "subdir": "linux-64"})
    return index


# --------------------------------------------------------------------------- packages


def build_python(out: Path, work: Path) -> Path:
    src = Path(sys.base_prefix)
    stage = work / "python"
    libdir = Path(sysconfig.get_config_var("LIBDIR") or src / "lib")
    stdlib = Path(sysconfig.get_paths(vars={"installed_base": str(src), "base": str(src)})["stdlib"])
    old_prefix = str(src).encode()

    (stage / "bin").mkdir(parents=True)
    exe = Path(os.path.realpath(src / "bin" / f"python{PYVER}"))
    shutil.copy2(exe, stage / "bin" / f"python{PYVER}")
    os.symlink(f"python{PYVER}", stage / "bin" / "python3")
    os.symlink(f"python{PYVER}", stage / "bin" / "python")
    elf = [stage / "bin" / f"python{PYVER}"]

    (stage / "lib").mkdir()
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        soname = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY")
        shutil.copy2(os.path.realpath(libdir / soname), stage / "lib" / soname)
        elf.append(stage / "lib" / soname)
        ldlib = sysconfig.get_config_var("LDLIBRARY")
        if ldlib and ldlib != soname:
            os.symlink(soname, stage / "lib" / ldlib)
        if (libdir / "libpython3.so").is_file():
            shutil.copy2(libdir / "libpython3.so", stage / "lib" / "libpython3.so")

    dst_stdlib = stage / "lib" / f"python{PYVER}"
    config_dir = f"config-{PYVER}" if not sys.abiflags else f"config-{PYVER}{sys.abiflags}"
    for root, dirs, files in os.walk(stdlib):
        rel = Path(root).relative_to(stdlib)
        dirs[:] = sorted(d for d in dirs if d not in STDLIB_SKIP_DIRS and not d.startswith(config_dir))
        (dst_stdlib / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            if rel.as_posix() == "lib-dynload" and f.startswith(DYNLOAD_SKIP_PREFIXES):
                continue
            if f.endswith((".pyc", ".pyo")):
                continue
            s = Path(root) / f
            d = dst_stdlib / rel / f
            if s.is_symlink():
                os.symlink(os.readlink(s), d)
            else:
                shutil.copy2(s, d)
                if rel.as_posix() == "lib-dynload" and f.endswith(".so"):
                    elf.append(d)
    site = dst_stdlib / "site-packages"
    site.mkdir(exist_ok=True)
    (site / "README.txt").write_text("This directory exists so that 3rd party packages can be installed here.\n")

    for path in elf:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
        strip_elf(path)
        set_elf_runpath(path, b"$ORIGIN/../lib" if path.parent.name in ("bin", "lib") else b"$ORIGIN/../..")

    # Text files that name the build prefix (sysconfigdata, ...) get conda's text prefix
    # replacement; binaries keep their compiled-in default (only a fallback for getpath).
    text_prefix = {}
    for root, _dirs, files in os.walk(stage):
        for f in files:
            p = Path(root) / f
            if p.is_symlink():
                continue
            blob = p.read_bytes()
            if old_prefix in blob and b"\0" not in blob:
                text_prefix[p.relative_to(stage).as_posix()] = str(src)

    index = base_index("python", PYVER_FULL, BUILD_STRING, [], noarch=False, license_="Python-2.0")
    return write_package(stage, out / "linux-64", index, text_prefix)


def fetch_numpy_wheel(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    found = sorted(cache.glob(f"numpy-{NUMPY_VERSION}-{tag}-{tag}-*manylinux*x86_64*.whl"))
    if found:
        return found[0]
    log(f"downloading numpy {NUMPY_VERSION} wheel into {cache}")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(cache), f"numpy=={NUMPY_VERSION}"]
    r = subprocess.run(cmd)
    if r.returncode != 0:
        raise SystemExit(f"error: `{' '.join(cmd)}` failed (exit {r.returncode})")
    found = sorted(cache.glob(f"numpy-{NUMPY_VERSION}-{tag}-{tag}-*.whl"))
    if not found:
        raise SystemExit(f"error: pip downloaded no numpy {NUMPY_VERSION} wheel for {tag} into {cache}")
    return found[0]


def build_numpy(out: Path, work: Path, wheel: Path) -> Path:
    stage = work / "numpy"
    site = stage / "lib" / f"python{PYVER}" / "site-packages"
    site.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if info.is_dir() or ".data/" in info.filename:
                continue
            dest = site / info.filename
            dest.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as fsrc, open(dest, "wb") as fdst:
                shutil.copyfileobj(fsrc, fdst, 1 << 20)
            mode = (info.external_attr >> 16) & 0o777
            dest.chmod(mode if mode else 0o644)
    index = base_index("numpy", NUMPY_VERSION, f"py{PYVER.replace('.', '')}{BUILD_STRING}",
                       [f"python {PYVER}.*"], noarch=False, license_="BSD-3-Clause")
    return write_package(stage, out / "linux-64", index)


PROBE_SCRIPT = """#!/usr/bin/env bash
# Shunter test-channel probe: tells which version an environment got and whether it is activated.
echo "shunter-probe {version}"
echo "CONDA_PREFIX=${{CONDA_PREFIX:-}}"
echo "installed-in {placeholder}"
"""


def build_probe(out: Path, work: Path, version: str) -> Path:
    stage = work / f"probe-{version}"
    (stage / "bin").mkdir(parents=True)
    script = stage / "bin" / "shunter-probe"
    script.write_text(PROBE_SCRIPT.format(version=version, placeholder=PLACEHOLDER))
    script.chmod(0o755)
    index = base_index("shunter-probe", version, "0", [], noarch=True, license_="MIT")
    return write_package(stage, out / "noarch", index, {"bin/shunter-probe": PLACEHOLDER})


async def index_channel(out: Path) -> None:
    from rattler.index import index_fs  # noqa: PLC0415

    await index_fs(out, write_zst=False, write_shards=False, force=True)


def build(out: Path, cache: Path) -> None:
    t0 = time.monotonic()
    out = out.resolve()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "linux-64").mkdir(parents=True)
    (partial / "noarch").mkdir()
    wheel = fetch_numpy_wheel(cache)
    with tempfile.TemporaryDirectory(prefix="shunter-channel-") as tmp:
        work = Path(tmp)
        for what, fn in [
            (f"python {PYVER_FULL}", lambda: build_python(partial, work)),
            (f"numpy {NUMPY_VERSION}", lambda: build_numpy(partial, work, wheel)),
            *[(f"shunter-probe {v}", (lambda v=v: build_probe(partial, work, v))) for v in PROBE_VERSIONS],
        ]:
            t = time.monotonic()
            pkg = fn()
            log(f"{what}: {pkg.name} {pkg.stat().st_size / 1e6:.1f} MB in {time.monotonic() - t:.1f} s")
    asyncio.run(index_channel(partial))
    shutil.rmtree(partial / ".tmp", ignore_errors=True)  # the indexer's scratch dir
    for sub in ("linux-64", "noarch"):
        if not (partial / sub / "repodata.json").is_file():
            raise SystemExit(f"error: indexer wrote no {sub}/repodata.json")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    log(f"channel written to {out} in {time.monotonic() - t0:.1f} s")


# --------------------------------------------------------------------------- self-test


def self_test(out: Path) -> None:
    import rattler  # noqa: PLC0415
    from rattler.exceptions import SolverError  # noqa: PLC0415

    channel = out.resolve().as_uri()
    platforms = ["linux-64", "noarch"]

    async def run(prefix: Path, cache_dir: Path) -> None:
        vps = rattler.VirtualPackage.detect()
        records = await rattler.solve([channel], [f"python {PYVER}.*", "numpy", "shunter-probe 1.*"],
                                      platforms=platforms, virtual_packages=vps)
        log("self-test solved: " + ", ".join(f"{r.name.normalized}-{r.version}" for r in records))
        await rattler.install(records, target_prefix=prefix, cache_dir=cache_dir, show_progress=False)
        try:
            await rattler.solve([channel], ["numpy ==0.0.1"], platforms=platforms, virtual_packages=vps)
        except SolverError as e:
            log(f"self-test: unsolvable spec raised {type(e).__module__}.{type(e).__name__}: {e}")
        else:
            raise SystemExit("self-test FAILED: `numpy ==0.0.1` was solvable")

    with tempfile.TemporaryDirectory(prefix="shunter-channel-test-") as tmp:
        prefix, cache_dir = Path(tmp) / "env", Path(tmp) / "pkgs"
        t = time.monotonic()
        asyncio.run(run(prefix, cache_dir))
        log(f"self-test: solve+install {time.monotonic() - t:.1f} s")
        code = ("import sys, json, ssl, sqlite3, ctypes, numpy; "
                "print(json.dumps([sys.prefix, numpy.__version__]))")
        r = subprocess.run([str(prefix / "bin" / "python"), "-c", code], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin"})
        if r.returncode != 0:
            raise SystemExit(f"self-test FAILED: python in prefix: {r.stderr}")
        got_prefix, got_numpy = json.loads(r.stdout)
        if os.path.realpath(got_prefix) != os.path.realpath(prefix) or got_numpy != NUMPY_VERSION:
            raise SystemExit(f"self-test FAILED: sys.prefix={got_prefix} numpy={got_numpy}")
        probe = subprocess.run([str(prefix / "bin" / "shunter-probe")], capture_output=True, text=True,
                               env={"PATH": "/usr/bin:/bin", "CONDA_PREFIX": str(prefix)}).stdout
        if "shunter-probe 1.0" not in probe or f"installed-in {prefix}" not in probe:
            raise SystemExit(f"self-test FAILED: shunter-probe printed {probe!r}")
        log(f"self-test OK: sys.prefix={got_prefix} numpy={got_numpy}; probe: {probe.strip()!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output_dir", type=Path)
    ap.add_argument("--cache-dir", type=Path, help="where the numpy wheel is kept (default: OUTPUT_DIR/../test-channel-cache)")
    ap.add_argument("--self-test", action="store_true", help="after building, install from the channel and check it")
    ap.add_argument("--self-test-only", action="store_true", help="only run the self-test on an existing channel")
    args = ap.parse_args()
    cache = args.cache_dir or args.output_dir.resolve().parent / "test-channel-cache"
    if not args.self_test_only:
        build(args.output_dir, cache)
    if args.self_test or args.self_test_only:
        self_test(args.output_dir)


if __name__ == "__main__":
    try:
        main()
        exit_code = 0
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            exit_code = 1
        else:
            exit_code = e.code or 0
    except BaseException:  # noqa: BLE001
        import traceback  # noqa: PLC0415

        traceback.print_exc()
        exit_code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # py-rattler's native worker threads can outlive asyncio.run; finalising the interpreter
    # under them crashes now and then (SIGSEGV/SIGABRT after success), so skip finalisation.
    os._exit(exit_code)
