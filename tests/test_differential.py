"""Differential testing: every corpus variant linked by tinyelf behaves
exactly like the same objects linked by GNU ld.

The corpus (tests/corpus/corpus.py) describes each variant: its sources, its
flags, its argv/stdin/environment.  Here each variant is compiled once (in
parallel, in a session tmp dir), linked by GNU ld with
linker_scripts/baseline.ld and by tinyelf, both executables are run, and
stdout and exit status must be identical (tinyelf's also as an ordinary
user).  Must-reject variants (constructors, TLS) must fail with a clear
``tinyelf: error:`` and no output, never link with those parts dropped.

tinyelf gets exactly the inputs ld gets, archives and Rust rlibs included.

Run just this file: ``python -m pytest -q tests/test_differential.py``;
``python tests/test_differential.py [NAME...]`` prints a table instead.
"""
from __future__ import annotations

import concurrent.futures
import errno
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "corpus"))
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
from conftest import nobody_prefix  # noqa: E402

#: what each must-reject program must be refused for
REJECT_REASONS = {"ctor": "constructors", "cxx_ctors": "constructors",
                  "tls": "thread-local storage"}


def run_variant(exe, variant, as_nobody=False, timeout=20):
    cmd = [exe, *variant.argv]
    if as_nobody:
        cmd = nobody_prefix() + cmd
    for attempt in range(50):
        try:
            r = subprocess.run(cmd, input=variant.stdin, capture_output=True,
                               env=dict(variant.env), timeout=timeout)
            return r.stdout, r.returncode
        except OSError as exc:
            # ETXTBSY: a child forked by another thread at the moment this
            # file was being written still holds it open for a few microseconds
            if exc.errno != errno.ETXTBSY or attempt == 49:
                raise
            time.sleep(0.02)


@dataclass
class Outcome:
    variant: object
    build_error: str | None = None
    ld: tuple | None = None          # (stdout, status)
    tinyelf: tuple | None = None
    tinyelf_nobody: tuple | None = None
    tinyelf_error: str | None = None  # stderr of a failed tinyelf link
    tinyelf_rc: int | None = None
    sizes: tuple = (0, 0)             # (ld, tinyelf) bytes
    exe: str = ""                     # tinyelf's output (the objects may lie elsewhere)
    objs: tuple = ()
    archives: tuple = ()


def _tinyelf_cli(inputs, out):
    return subprocess.run([sys.executable, "-m", "tinyelf", "pack", *inputs, "-o", out],
                          capture_output=True, text=True, cwd=str(HERE.parent))


def check(variant, workdir) -> Outcome:
    res = Outcome(variant)
    vdir = os.path.join(workdir, variant.name)
    try:
        objs, archives = corpus.build_objects(variant, vdir, os.path.join(workdir, "_support"))
    except RuntimeError as exc:
        res.build_error = str(exc)
        return res
    res.objs, res.archives = tuple(objs), tuple(archives)
    inputs = list(objs) + list(archives)
    tout = res.exe = os.path.join(vdir, "prog.tinyelf")
    if variant.reject:
        proc = _tinyelf_cli(inputs, tout)
        res.tinyelf_rc, res.tinyelf_error = proc.returncode, proc.stderr
        return res
    lout = os.path.join(vdir, "prog.ld")
    try:
        corpus.link_with_ld(objs, archives, lout, arch=variant.arch)
        res.ld = run_variant(lout, variant)
    except RuntimeError as exc:
        res.build_error = f"GNU ld failed: {exc}"
        return res
    import tinyelf
    try:
        data = tinyelf.link(inputs)
    except tinyelf.TinyElfError as exc:
        res.tinyelf_error = "\n".join(exc.messages)
        return res
    with open(tout, "wb") as f:
        f.write(data)
    os.chmod(tout, 0o755)
    res.sizes = (os.path.getsize(lout), len(data))
    res.tinyelf = run_variant(tout, variant)
    res.tinyelf_nobody = run_variant(tout, variant, as_nobody=True)
    return res


def check_all(variants, workdir, jobs=None):
    jobs = jobs or (os.cpu_count() or 2) + 1
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        return {r.variant.name: r for r in ex.map(lambda v: check(v, workdir), variants)}


# --- tests -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def outcomes(build_dir):
    workdir = build_dir / "differential"
    workdir.mkdir()
    return check_all(corpus.VARIANTS, str(workdir))


def test_corpus_is_big_enough():
    linked = [v for v in corpus.VARIANTS if not v.reject]
    assert len(linked) >= 40
    assert {v.compiler for v in linked} == {"gcc", "rustc"}
    assert {"ctor", "tls"} <= {v.program for v in corpus.VARIANTS if v.reject}


@pytest.mark.parametrize("name", [v.name for v in corpus.VARIANTS if not v.reject])
def test_same_behaviour_as_gnu_ld(outcomes, name):
    r = outcomes[name]
    assert r.build_error is None, r.build_error
    assert r.tinyelf_error is None, f"tinyelf refused what GNU ld links: {r.tinyelf_error}"
    assert r.tinyelf == r.ld, f"tinyelf {r.tinyelf!r} != GNU ld {r.ld!r}"
    assert r.tinyelf_nobody == r.ld
    v = r.variant
    if v.expect_status is not None:
        assert r.ld[1] == v.expect_status
    if v.expect_stdout is not None:
        assert r.ld[0] == v.expect_stdout


@pytest.mark.parametrize("name", [v.name for v in corpus.VARIANTS if v.reject])
def test_must_reject(outcomes, name):
    r = outcomes[name]
    assert r.build_error is None, r.build_error
    assert r.tinyelf_rc == 1, r.tinyelf_error
    lines = r.tinyelf_error.splitlines()
    assert lines and all(l.startswith("tinyelf: error: ") for l in lines), r.tinyelf_error
    assert REJECT_REASONS[r.variant.program] in r.tinyelf_error
    assert not os.path.exists(os.path.join(os.path.dirname(r.objs[0]), "prog.tinyelf"))


# --- compressed (issue 12, tinyelf.compress) ---------------------------------------
#: every variant is linked with lz, cm and auto, with and without --wx.  There cm
#: uses the compressor's quick search (cm.QUICK_SEARCH: fewer candidate models,
#: seconds less per link): the decoder runs the same code whatever models a
#: payload names.  This subset also links cm with the real search and runs
#: what auto makes.
COMPRESS_SUBSET = ["switch.O2", "fptr.O2-pie", "bigbss.Os-pic", "strings.Os-pic",
                   "statics.O2", "recursion.O0", "args.Os", "wc_c.Os", "hello_rs.z",
                   "echo_rs.z-pic", "prodfactors_rs.z", "rot13_rs.3"]


def _compressed_link(r, codec, wx):
    from tinyelf.linker.driver import run
    from tinyelf.linker.model import LinkOptions
    return run(list(r.objs) + list(r.archives), LinkOptions(compress=codec, wx=wx)).output


def _runs_like_ld(r, data, name):
    """Write ``data`` beside the variant's objects; it must print and exit
    as GNU ld's output, as root and as nobody."""
    out = os.path.join(os.path.dirname(r.objs[0]), f"prog.{name}")
    with open(out, "wb") as f:
        f.write(data)
    os.chmod(out, 0o755)
    assert run_variant(out, r.variant) == r.ld, name
    assert run_variant(out, r.variant, as_nobody=True) == r.ld, name


def _compressed_runs(r, codec, wx):
    data = _compressed_link(r, codec, wx)
    _runs_like_ld(r, data, f"{codec}{'.wx' if wx else ''}")
    return len(data)


def _has_stub(variant, codec="lz") -> bool:
    """Whether the variant's machine has a decompressor for ``codec``."""
    from tinyelf import arch as archmod
    return archmod.get(variant.arch).decompressor(codec, False) is not None


def _runnable(outcomes, name):
    r = outcomes[name]
    assert r.build_error is None and r.tinyelf_error is None
    return r


@pytest.fixture
def quick_cm(monkeypatch):
    from tinyelf.compress import cm
    monkeypatch.setattr(cm, "SEARCH", cm.QUICK_SEARCH)


@pytest.mark.parametrize("name", [v.name for v in corpus.VARIANTS
                                  if not v.reject and _has_stub(v) and _has_stub(v, "cm")])
def test_compressed_behaves_the_same(outcomes, name, quick_cm):
    """One auto link per --wx setting makes the lz file, the cm file and the
    plain one (what --compress=lz / cm / none make: the same passes); the lz
    and cm files run like GNU ld's, and auto's output is the smallest of the
    three, never larger than the plain link."""
    from tinyelf.linker.driver import run
    from tinyelf.linker.model import LinkOptions
    r = _runnable(outcomes, name)
    for wx in (False, True):
        lk = run(list(r.objs) + list(r.archives), LinkOptions(compress="auto", wx=wx))
        made = lk.compression["_outputs"]
        assert set(made) == {"lz", "cm", "none"}, lk.compression["notes"]
        for codec in ("lz", "cm"):
            _runs_like_ld(r, made[codec], f"{codec}{'.wx' if wx else ''}")
        assert lk.output == min(made.values(), key=len)
        if not wx:      # the plain link that ran like GNU ld's in check()
            with open(r.exe, "rb") as f:
                assert made["none"] == f.read()


@pytest.mark.parametrize("name", [n for n in COMPRESS_SUBSET
                                  if any(v.name == n for v in corpus.VARIANTS)])
def test_compressed_cm_and_auto_behave_the_same(outcomes, name):
    """The real search (what users get), and auto's output run."""
    r = _runnable(outcomes, name)
    sizes = {}
    for codec in ("cm", "auto"):
        for wx in (False, True):
            sizes[codec, wx] = _compressed_runs(r, codec, wx)
    assert sizes["auto", False] <= r.sizes[1]        # never larger than not compressing


@pytest.mark.parametrize("name", [v.name for v in corpus.VARIANTS
                                  if not v.reject and not _has_stub(v)][:2])
def test_compress_on_a_machine_without_stubs(outcomes, name):
    """A machine without decompressors (i386 today): an explicit codec is one
    clear error, and auto links the plain program."""
    import tinyelf
    from tinyelf.linker.driver import run
    from tinyelf.linker.model import LinkOptions
    r = _runnable(outcomes, name)
    inputs = list(r.objs) + list(r.archives)
    with pytest.raises(tinyelf.TinyElfError, match="no lz decompressor"):
        run(inputs, LinkOptions(compress="lz"))
    assert len(run(inputs, LinkOptions(compress="auto")).output) == r.sizes[1]


def main(argv):
    chosen = [v for v in corpus.VARIANTS if not argv or any(a in v.name for a in argv)]
    with tempfile.TemporaryDirectory(prefix="tinyelf-diff-") as tmp:
        res = check_all(chosen, tmp)
    bad = 0
    print(f"{'variant':30} {'result':8} {'ld':>7} {'tinyelf':>7}  note")
    for name, r in res.items():
        if r.build_error:
            status, note = "ERROR", r.build_error.splitlines()[0]
        elif r.variant.reject:
            ok = r.tinyelf_rc == 1 and REJECT_REASONS[r.variant.program] in (r.tinyelf_error or "")
            status, note = ("rejected" if ok else "FAIL"), (r.tinyelf_error or "").strip()[:80]
        elif r.tinyelf_error:
            status, note = "FAIL", r.tinyelf_error.splitlines()[0][:100]
        elif r.tinyelf != r.ld or r.tinyelf_nobody != r.ld:
            status, note = "FAIL", f"tinyelf {r.tinyelf[1]} {r.tinyelf[0][:30]!r} ld {r.ld[1]} {r.ld[0][:30]!r}"
        else:
            status, note = "same", f"status {r.ld[1]}"
        bad += status in ("FAIL", "ERROR")
        print(f"{name:30} {status:8} {r.sizes[0] or '':>7} {r.sizes[1] or '':>7}  {note}")
    print(f"{len(res)} variants, {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
