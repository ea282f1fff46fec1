#!/usr/bin/env python3
"""Mutation fuzzer for tinyelf's readers and linker.

    python tests/fuzz/run.py -n 20000 [--seed S] [--jobs 1] [--cli 50] [--only i386_]

Each case takes a seed input set from ``tests/fuzz/seeds/<label>/`` (objects
and archives, rebuilt by ``seed_src/make_seeds.sh``), mutates one file
(``mutate.py``) and runs ``tinyelf pack`` on it.  The outcome must be one of:

* exit status 0 and a complete output file (its program headers lie inside it);
* exit status 1, stderr made only of ``tinyelf: error: ...`` lines (one or
  more), no output file and no temporary file left behind.

Anything else is a failure: a traceback or ``tinyelf: internal error``, any
other status, a signal (lief is C++: a crash inside it is tinyelf's crash),
a case slower than ``--slow`` seconds (a hang), a partial output.

In-process mode (the default) runs many cases in one worker process through
``tinyelf.cli.main`` with ``TINYELF_DEBUG=1`` (so a bug surfaces as a Python
exception with its traceback).  The worker is a subprocess of this script: a
signal kills only the worker, the script records the case that killed it,
saves it and starts a new worker after it.  A per-case ``SIGALRM`` with the
default action turns a hang into a signal as well.  ``--cli N`` additionally
runs N cases through a real ``python -m tinyelf`` subprocess each.

Failing inputs are written to ``tests/fuzz/crashers/<label>-<seed>-<case>/``
(with ``--save``), where ``tests/test_fuzz.py`` replays every one of them as a
regression test.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEEDS = os.path.join(HERE, "seeds")
CRASHERS = os.path.join(HERE, "crashers")
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from mutate import make_case  # noqa: E402


def load_seeds(archives: bool = True, only: str = "") -> list:
    """[(label, [(file name, bytes), ...]), ...] from the seed directory;
    ``archives=False`` leaves out the seed sets that contain an archive,
    ``only`` those whose label does not start with it (``i386_``)."""
    out = []
    for label in sorted(os.listdir(SEEDS)):
        if not label.startswith(only):
            continue
        d = os.path.join(SEEDS, label)
        files = [(f, open(os.path.join(d, f), "rb").read()) for f in sorted(os.listdir(d))]
        if not archives and any(data.startswith(b"!<arch>\n") for _, data in files):
            continue
        out.append((label, files))
    return out


def output_complete(path) -> str | None:
    """None if ``path`` is a complete ELF executable as far as its headers
    say (and has mode 0755), else what is wrong."""
    problem = output_complete_bytes(open(path, "rb").read())
    if problem is None and os.stat(path).st_mode & 0o777 != 0o755:
        problem = f"output mode {oct(os.stat(path).st_mode & 0o777)}"
    return problem


#: e_machine -> (e_phoff, e_phnum offsets and format, program header size and
#: format, where p_offset, p_filesz, p_memsz are, whether p_filesz must lie in
#: the file); the machine, not EI_CLASS, says the class: the overlapped i386
#: layouts put code where EI_CLASS is (the kernel does not read it), and
#: teensy's p_filesz = p_memsz is e_entry's word, far past its file (the
#: kernel maps the page that is there), so for i386 only p_offset is checked
_PHDRS = {3: ("<I", 28, 44, 32, "<IIIIIIII", (1, 4, 5), False),      # ELF32
          None: ("<Q", 32, 56, 56, "<IIQQQQQQ", (2, 5, 6), True)}    # ELF64


def output_complete_bytes(data: bytes) -> str | None:
    if len(data) < 45 or data[:4] != b"\x7fELF":
        return f"output of {len(data)} bytes is not an ELF file"
    machine, = struct.unpack_from("<H", data, 18)
    phoff_fmt, phoff_at, phnum_at, phsize, ph_fmt, (i_off, i_filesz, i_memsz), whole = \
        _PHDRS.get(machine, _PHDRS[None])
    head = data[:64].ljust(64, b"\0")       # the kernel reads bytes past a tiny file as zeros
    phoff, = struct.unpack_from(phoff_fmt, head, phoff_at)
    phnum, = struct.unpack_from("<H", head, phnum_at)
    if phoff + phsize * phnum > len(data):
        return "program headers past the end of the output"
    for i in range(phnum):
        ph = struct.unpack_from(ph_fmt, data, phoff + phsize * i)
        off, filesz, memsz = ph[i_off], ph[i_filesz], ph[i_memsz]
        if not whole:
            filesz = min(filesz, len(data) - off) if off < len(data) else filesz
        if ph[0] == 1 and (off + filesz > len(data) or filesz > memsz):
            return f"PT_LOAD {i} reaches past the end of the output ({off}+{filesz} > {len(data)})"
    return None


def judge(rc, stderr: str, workdir, out) -> str | None:
    """None when the outcome is acceptable, else a one-line description."""
    leftovers = [f for f in os.listdir(workdir) if f.startswith(".tinyelf-")]
    if leftovers:
        return f"temporary file left behind: {leftovers}"
    if rc == 0:
        if not os.path.exists(out):
            return "status 0 without an output file"
        return output_complete(out)
    if rc == 1:
        lines = stderr.splitlines()
        if not lines:
            return "status 1 without an error message"
        bad = [l for l in lines if not l.startswith("tinyelf: error: ") or len(l) <= 16]
        if bad:
            return f"stderr line that is not 'tinyelf: error: ...': {bad[0][:200]!r}"
        if os.path.exists(out):
            return "status 1 but an output file was written"
        return None
    if rc < 0:
        return f"killed by signal {signal.Signals(-rc).name}"
    return f"exit status {rc}: {stderr.strip()[-300:]!r}"


def write_inputs(workdir, files) -> list:
    paths = []
    for i, (name, data) in enumerate(files):
        p = os.path.join(workdir, f"{i}-{name}")
        with open(p, "wb") as f:
            f.write(data)
        paths.append(p)
    return paths


def run_in_process(files, workdir, verify: bool = True) -> tuple[str | None, float, int | None]:
    """One case through tinyelf.cli.main in this process (``verify``: with
    --verify, so that lief, C++, reads the mutated objects too)."""
    from tinyelf import cli
    for f in os.listdir(workdir):
        os.unlink(os.path.join(workdir, f))
    paths = write_inputs(workdir, files)
    out = os.path.join(workdir, "out")
    err = io.StringIO()
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stderr(err):
            rc = cli.main(["pack", *paths, "-o", out] + (["--verify"] if verify else []))
    except Exception:  # TINYELF_DEBUG=1: internal errors arrive here with their traceback
        tb = traceback.format_exc().strip().splitlines()
        return "traceback: " + " | ".join(tb[-4:]), time.perf_counter() - t0, None
    return judge(rc, err.getvalue(), workdir, out), time.perf_counter() - t0, rc


def run_cli(files, workdir, timeout) -> tuple[str | None, float]:
    """One case through a real ``python -m tinyelf`` process."""
    for f in os.listdir(workdir):
        os.unlink(os.path.join(workdir, f))
    paths = write_inputs(workdir, files)
    out = os.path.join(workdir, "out")
    env = dict(os.environ)
    env.pop("TINYELF_DEBUG", None)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "tinyelf", "pack", *paths, "-o", out],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return f"hang: more than {timeout} s", time.perf_counter() - t0
    dt = time.perf_counter() - t0
    if "Traceback" in proc.stderr or "internal error" in proc.stderr:
        return "traceback: " + proc.stderr.strip().splitlines()[-1][:300], dt
    return judge(proc.returncode, proc.stderr, workdir, out), dt


# --- worker: many cases in one process ----------------------------------------------

def worker(seed, start, stop, slow, archives, only=""):
    os.environ["TINYELF_DEBUG"] = "1"
    seeds = load_seeds(archives, only)
    workdir = tempfile.mkdtemp(prefix="tinyelf-fuzz-")
    signal.signal(signal.SIGALRM, signal.SIG_DFL)   # a hang kills the worker: SIGALRM
    # import lief and capstone before the clock runs: a worker's first case
    # would otherwise pay their import (seconds on a loaded machine) as "slow"
    run_in_process(seeds[0][1], workdir)
    try:
        for i in range(start, stop):
            files, desc = make_case(seeds, seed, i)
            print(f"B {i}", flush=True)
            signal.alarm(max(1, int(slow * 4)))
            # even cases also through lief (--verify), odd ones as a default link
            problem, dt, rc = run_in_process(files, workdir, verify=i % 2 == 0)
            signal.alarm(0)
            if problem is None and dt > slow:
                problem = f"slow: {dt:.2f} s"
            print(json.dumps({"i": i, "t": round(dt, 4), "rc": rc, "problem": problem, "desc": desc}),
                  flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def supervise(seed, start, stop, slow, archives, log=None, only=""):
    """Run cases [start, stop) in worker subprocesses, restarting after a
    crash.  Yields one result dict per case."""
    i = start
    while i < stop:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--seed", str(seed),
               "--start", str(i), "--stop", str(stop), "--slow", str(slow),
               "--archives" if archives else "--no-archives", "--only", only]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        current = None
        for line in proc.stdout:
            if line.startswith("B "):
                current = int(line.split()[1])
                continue
            rec = json.loads(line)
            current = None
            i = rec["i"] + 1
            yield rec
        rc = proc.wait()
        if current is not None:      # died inside a case
            how = f"killed by signal {signal.Signals(-rc).name}" if rc < 0 else f"worker exit {rc}"
            if rc == -signal.SIGALRM:
                how = f"hang: more than {int(slow * 4)} s (SIGALRM)"
            yield {"i": current, "t": None, "rc": None, "problem": how, "desc": "(see saved input)"}
            i = current + 1
        elif rc != 0:      # died between cases (e.g. killed): say so, go on after it
            yield {"i": i, "t": None, "rc": None, "desc": "(between cases)",
                   "problem": f"worker died outside a case (status {rc})"}
            i += 1


def save_crasher(seeds, seed, i, problem):
    files, desc = make_case(seeds, seed, i)
    d = os.path.join(CRASHERS, f"{seed}-{i}")
    os.makedirs(d, exist_ok=True)
    for k, (name, data) in enumerate(files):
        with open(os.path.join(d, f"{k}-{name}"), "wb") as f:
            f.write(data)
    with open(os.path.join(d, "README"), "w") as f:
        f.write(f"seed {seed} case {i}: {desc}\nproblem: {problem}\n")
    return d


def fuzz(n, seed=1, jobs=1, slow=3.0, archives=True, progress=None, only=""):
    """Run ``n`` in-process cases; return (results, failures, seconds)."""
    t0 = time.time()
    results, failures = [], []
    if jobs <= 1:
        chunks = [(0, n)]
    else:
        step = -(-n // jobs)
        chunks = [(a, min(n, a + step)) for a in range(0, n, step)]
    import threading
    lock = threading.Lock()

    def drive(a, b):
        for rec in supervise(seed, a, b, slow, archives, only=only):
            with lock:
                results.append(rec)
                if rec["problem"]:
                    failures.append(rec)
                if progress and len(results) % progress == 0:
                    print(f"  {len(results)}/{n} cases, {len(failures)} failures, "
                          f"{time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    threads = [threading.Thread(target=drive, args=c) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, failures, time.time() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000, help="in-process cases (default 2000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--cli", type=int, default=0, metavar="N",
                    help="also run N cases through `python -m tinyelf` subprocesses")
    ap.add_argument("--slow", type=float, default=3.0, help="seconds a case may take")
    ap.add_argument("--save", action="store_true", help="save failing inputs under crashers/")
    ap.add_argument("--only", default="", metavar="PREFIX",
                    help="only the seed sets whose name starts with PREFIX (e.g. i386_)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--archives", dest="archives", action="store_true", default=True,
                    help=argparse.SUPPRESS)
    ap.add_argument("--no-archives", dest="archives", action="store_false", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.seed, args.start, args.stop, args.slow, args.archives, args.only)
        return 0

    seeds = load_seeds(args.archives, args.only)
    print(f"seeds: {', '.join(label for label, _ in seeds)}")
    results, failures, secs = fuzz(args.n, args.seed, args.jobs, args.slow, args.archives,
                                   progress=max(1000, args.n // 20), only=args.only)
    times = sorted(r["t"] for r in results if r["t"] is not None)
    linked = sum(r["rc"] == 0 for r in results)
    refused = sum(r["rc"] == 1 and not r["problem"] for r in results)
    print(f"{len(results)} in-process cases in {secs:.0f} s ({linked} linked, {refused} refused "
          f"with an error); median {times[len(times) // 2] * 1000:.1f} ms, "
          f"max {times[-1]:.2f} s per case; {len(failures)} failures")
    cli_fail = []
    if args.cli:
        workdir = tempfile.mkdtemp(prefix="tinyelf-fuzzcli-")
        for k in range(args.cli):
            i = args.n + k
            files, desc = make_case(seeds, args.seed, i)
            problem, dt = run_cli(files, workdir, timeout=max(10, args.slow * 4))
            if problem:
                cli_fail.append({"i": i, "problem": problem, "desc": desc})
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"{args.cli} CLI cases: {len(cli_fail)} failures")
    for rec in failures + cli_fail:
        where = ""
        if args.save:
            where = " -> " + os.path.relpath(save_crasher(seeds, args.seed, rec["i"], rec["problem"]), ROOT)
        print(f"FAIL case {rec['i']} ({rec['desc']}): {rec['problem']}{where}")
    return 1 if failures or cli_fail else 0


if __name__ == "__main__":
    sys.exit(main())
