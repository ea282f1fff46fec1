"""Compressed executables (--compress, tinyelf.compress): codecs round-trip in
Python, the stored x86-64 stubs are what their sources assemble to, and every
sample compressed with lz, cm and auto, with and without --wx, prints and
exits like the plain program, as root and as nobody, within the memory bound
(the plain program's need + 64 MiB).  The differential corpus with
compression is tests/corpus/test_corpus_compress.py."""
from __future__ import annotations

import os
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import SAMPLES, requires_rustc, run_exe, run_tinyelf

from tinyelf.compress import cm, lz

ROOT = SAMPLES.parent


# --- the stubs: stored bytes = assembled sources --------------------------------

@pytest.mark.parametrize("name", ["payload", "payload_pic", "unlz", "uncm", "exit", "enter_wx",
                                  "exit_wx"])
def test_stored_stub_is_its_source_assembled(name):
    from tinyelf.arch.x86_64.stubs import assemble_stub, stored
    assert assemble_stub(name) == stored(name)


def test_decoder_sizes():
    from tinyelf.arch.x86_64.stubs import stored
    # a decoder starts with payload.asm (--wx: payload_pic.asm, 2 bytes more)
    assert len(stored("payload")[0]) + len(stored("unlz")[0]) <= 100
    assert len(stored("payload")[0]) + len(stored("uncm")[0]) <= 300


def test_arch_without_stubs_has_no_decompressor():
    from tinyelf.arch import Arch
    assert Arch().decompressor("lz", False) is None


# --- codecs in Python ------------------------------------------------------------

def _real_code(n=3000):
    """``n`` bytes of /bin/true's .text (x86-64 code a compiler made)."""
    import struct
    with open("/bin/true", "rb") as f:
        elf = f.read()
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3a)
    secs = [struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    names = secs[shstrndx][4]
    for name, _t, _f, _a, off, size in secs:
        if elf[names + name:names + name + 6] == b".text\0":
            return elf[off:off + min(n, size)]
    raise AssertionError("/bin/true has no .text")


FIXED = [b"a", b"\0" * 1000, bytes(range(256)) * 3, os.urandom(700), _real_code()]


@pytest.mark.parametrize("data", FIXED, ids=["one", "zeros", "ramp", "random", "code"])
def test_lz_round_trip_fixed(data):
    packed = lz.compress(data)
    assert lz.decompress(packed) == data
    if set(data) == {0}:
        assert len(packed) < 40


@pytest.mark.parametrize("data", FIXED[:4], ids=["one", "zeros", "ramp", "random"])
def test_cm_round_trip_fixed(data):
    packed = cm.compress(data)
    assert cm.decompress(packed, len(data)) == data


def test_cm_beats_lz_on_code():
    code = _real_code(1500)
    packed = cm.encode(code, [(0x80, 0), (0x40, 0), (0xC0, 1), (0x20, 0)])
    assert cm.decompress(packed, len(code)) == code
    assert len(packed) < len(lz.compress(code)) < len(code)


SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
blobs = st.one_of(st.binary(min_size=1, max_size=400),
                  st.lists(st.sampled_from([b"\0", b"\x48\x89", b"\xe8\0\0\0\0", b"abc"]),
                           min_size=1, max_size=120).map(b"".join))


@SETTINGS
@given(blobs)
def test_lz_round_trip(data):
    assert lz.decompress(lz.compress(data)) == data


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blobs)
def test_cm_round_trip(data):
    assert cm.decompress(cm.encode(data, [(0x80, 1), (0x00, 0), (0xC0, 3)]), len(data)) == data


# --- compressed executables run -----------------------------------------------------

#: sample -> (argv, stdin)
RUNS = {"hello.c": ((), b""), "main.c": (("a", "b"), b""), "wc.c": ((), b"one two\nthree\n"),
        "hello.asm": ((), b""), "hello.rs": ((), b""), "exit.rs": ((), b""),
        "echo.rs": (("x", "yz"), b""), "rot13.rs": ((), b"Hello, World\n"),
        "prodfactors.rs": (("600851475143", "12", "x"), b"")}
RUST = {n for n in RUNS if n.endswith(".rs")}


def _plain_and(build_dir, sample_obj, name, tag, *flags):
    """Link a sample with the command line's ``flags`` (in this process: the
    codecs' outputs are remembered, so auto and --wx reuse them)."""
    import argparse

    from tinyelf.commands.pack import add_link_options, options_from
    from tinyelf.linker.driver import run
    objs = [SAMPLES / name] if name.endswith(".asm") else [sample_obj(name)]  # pack assembles .asm
    if name.endswith(".rs"):
        from tinyelf.tools import toolchain
        objs += toolchain.rust_core_rlibs()
    out = build_dir / f"{name.replace('.', '_')}.{tag}"
    p = argparse.ArgumentParser()
    add_link_options(p)
    lk = run([str(o) for o in objs], options_from(p.parse_args(["-o", str(out), *flags])))
    out.write_bytes(lk.output)
    out.chmod(0o755)
    return out


def _param(name):
    return pytest.param(name, marks=requires_rustc, id=name) if name in RUST else name


@pytest.mark.parametrize("name", [_param(n) for n in RUNS])
def test_sample_compressed_runs_like_plain(build_dir, sample_obj, name):
    argv, stdin = RUNS[name]
    plain = _plain_and(build_dir, sample_obj, name, "plain")
    want = run_exe(plain, *argv, stdin=stdin)
    sizes = {"none": plain.stat().st_size}
    for codec in ("lz", "cm", "auto"):
        for wx in ((), ("--wx",)):
            exe = _plain_and(build_dir, sample_obj, name, codec + "".join(wx),
                             f"--compress={codec}", *wx)
            for nobody in (False, True):
                assert run_exe(exe, *argv, stdin=stdin, as_nobody=nobody) == want, (codec, wx)
            if not wx:
                sizes[codec] = exe.stat().st_size
    assert sizes["auto"] == min(sizes.values())


def _min_vm_kb(exe, argv, stdin):
    """The smallest `ulimit -v` (KiB, 512 KiB steps) under which ``exe`` runs."""
    want = run_exe(exe, *argv, stdin=stdin)
    for kb in range(512, 1 << 20, 512):
        got = subprocess.run(["sh", "-c", f'ulimit -v {kb}; exec "$0" "$@"', str(exe), *argv],
                             input=stdin, capture_output=True)
        if (got.stdout, got.returncode) == want:
            return kb
    raise AssertionError("never ran")


@pytest.mark.parametrize("codec", ["lz", "cm"])
def test_memory_bound(build_dir, sample_obj, codec):
    argv, stdin = RUNS["wc.c"]
    plain = _plain_and(build_dir, sample_obj, "wc.c", "vm-plain")
    exe = _plain_and(build_dir, sample_obj, "wc.c", "vm-" + codec, f"--compress={codec}")
    bound = _min_vm_kb(plain, argv, stdin) + 64 * 1024
    got = subprocess.run(["sh", "-c", f'ulimit -v {bound}; exec "$0"', str(exe)], input=stdin,
                         capture_output=True)
    assert (got.stdout, got.returncode) == run_exe(plain, stdin=stdin)


@pytest.mark.parametrize("codec", ["lz", "cm"])
def test_process_state_is_the_kernels(build_dir, codec, tmp_path):
    """argc, argv, envp, AT_PAGESZ, AT_RANDOM, rdx = 0, rsp: the same with the stub."""
    src = ROOT / "tests" / "data" / "startstate.c"
    outs = {}
    for tag, flags in (("plain", ()), (codec, (f"--compress={codec}",)), (codec + "wx", (f"--compress={codec}", "--wx"))):
        exe = build_dir / f"startstate.{tag}"
        proc = run_tinyelf("build", src, "-o", exe, *flags)
        assert proc.returncode == 0, proc.stderr
        r = subprocess.run(["prog", "one", "two words"], executable=str(exe),
                           env={"A": "1", "LONGER": "x" * 40}, capture_output=True)
        assert r.returncode == 0
        lines = r.stdout.decode().splitlines()
        rnd = [l for l in lines if l.startswith("rnd")]
        assert len(rnd) == 2                              # AT_RANDOM's 16 bytes were readable
        outs[tag] = [l for l in lines if not l.startswith("rnd")]
    assert outs["plain"][:2] == ["rdx  0000000000000000", "algn 0000000000000000"]
    assert "pgsz 0000000000001000" in outs["plain"]
    assert outs[codec] == outs["plain"] == outs[codec + "wx"]


def test_report_names_codecs_and_costs(build_dir, sample_obj):
    import json
    out = build_dir / "wc_report"
    proc = run_tinyelf("pack", sample_obj("wc.c"), "-o", out, "--compress=lz", "--json")
    assert proc.returncode == 0, proc.stderr
    c = json.loads(proc.stdout)["compression"]
    assert c["codec"] == "lz" and c["sizes"]["lz"] == out.stat().st_size
    assert c["stub"] + c["payload"] < out.stat().st_size
    assert c["sections"] and all(s["bits"] > 0 for s in c["sections"])
    total = sum(s["bits"] for s in c["sections"]) / 8
    assert abs(total - c["payload"]) < c["payload"] * 0.3


def test_size_and_inspect_recognise_and_unpack(build_dir, sample_obj):
    exe = _plain_and(build_dir, sample_obj, "hello.c", "insp", "--compress=cm")
    proc = run_tinyelf("size", exe)
    assert proc.returncode == 0 and "compressed by tinyelf (codec cm)" in proc.stdout
    proc = run_tinyelf("inspect", "--unpacked", exe)
    assert proc.returncode == 0, proc.stderr
    assert "(unpacked)" in proc.stdout and "Hello" in proc.stdout
    plain = _plain_and(build_dir, sample_obj, "hello.c", "insp-plain")
    proc = run_tinyelf("inspect", "--unpacked", plain)
    assert proc.returncode == 1
    assert proc.stderr.startswith("tinyelf: error:") and "not a compressed" in proc.stderr


def test_program_in_the_stubs_way_is_an_error_or_a_fallback(build_dir, sample_obj):
    obj = sample_obj("hello.c")
    out = build_dir / "low"
    proc = run_tinyelf("pack", obj, "-o", out, "--base", "0x10000", "--compress=lz")
    assert proc.returncode == 1 and not out.exists()
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("tinyelf: error:")
    assert "collides" in proc.stderr
    proc = run_tinyelf("pack", obj, "-o", out, "--base", "0x10000", "--compress", "--report")
    assert proc.returncode == 0, proc.stderr
    assert "codec none" in proc.stdout and "collides" in proc.stdout
    assert run_exe(out) == (b"Hello, world!\n", 0)


def test_explicit_codec_without_stub_is_an_error(monkeypatch, sample_obj):
    from tinyelf import arch as archmod
    from tinyelf.errors import UsageError
    from tinyelf.linker.driver import run
    from tinyelf.linker.model import LinkOptions
    x86 = archmod.get("x86_64")

    class NoStubs(type(x86)):
        def decompressor(self, codec, wx):
            return None
    monkeypatch.setattr(archmod, "get", lambda name: NoStubs())
    with pytest.raises(UsageError, match="no lz decompressor"):
        run([sample_obj("hello.c")], LinkOptions(compress="lz", arch="x86_64"))
    lk = run([sample_obj("hello.c")], LinkOptions(compress="auto", arch="x86_64"))
    assert lk.compression["codec"] == "none" and lk.inner is None


@pytest.mark.skipif(__import__("shutil").which("gdb") is None, reason="gdb not installed")
def test_gdb_breaks_by_name_after_decompression(build_dir, sample_obj):
    """The sidecar describes the program inside: a hardware breakpoint (a
    software one's int3 would be overwritten by the stub) stops at its _start."""
    exe = build_dir / "hello_gdb"
    debug = build_dir / "hello_gdb.debug"
    proc = run_tinyelf("pack", sample_obj("hello.c"), "-o", exe, "--compress=lz",
                       "--debug-sidecar", debug)
    assert proc.returncode == 0, proc.stderr
    cmd = ["gdb", "-batch", "-nx", "-ex", f"symbol-file {debug}", "-ex", "starti",
           "-ex", "hbreak _start", "-ex", "continue", "-ex", "x/i $pc", "--args", str(exe)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    assert "Breakpoint 1, " in out and "in _start ()" in out, out
    assert "=> 0x" in out and "<_start>:\tmov" in out, out      # the decompressed code


@pytest.mark.parametrize("codec", ["lz", "cm"])
def test_wx_leaves_no_mapping_writable_and_executable(build_dir, codec):
    src = ROOT / "tests" / "data" / "maps.c"
    exe = build_dir / f"maps.{codec}"
    proc = run_tinyelf("build", src, "-o", exe, f"--compress={codec}", "--wx")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""                                   # no RWX warning
    out, status = run_exe(exe, as_nobody=True)
    maps = out.decode().splitlines()
    assert status == 0 and maps
    assert not [m for m in maps if "w" in m.split()[1] and "x" in m.split()[1]], maps
    assert any(m.split()[1] == "r-xp" and int(m.split("-")[0], 16) >= 0x400000 for m in maps)


@pytest.mark.parametrize("codec", ["lz", "cm"])
def test_wx_file_may_load_above_4gib(build_dir, sample_obj, codec):
    """--wx: the stub maps the program's memory itself and addresses its
    payload RIP-relative, so its file takes layout overlap80 (base 5 << 32,
    80 bytes of headers) when that is smaller; it runs as root and nobody,
    and size/inspect still find the program inside."""
    argv, stdin = RUNS["wc.c"]
    want = run_exe(_plain_and(build_dir, sample_obj, "wc.c", "o80-plain"), *argv, stdin=stdin)
    exe = _plain_and(build_dir, sample_obj, "wc.c", f"o80-{codec}", f"--compress={codec}", "--wx")
    data = exe.read_bytes()
    assert int.from_bytes(data[0x18:0x20], "little") == (5 << 32) + 1    # e_entry: overlap80
    for nobody in (False, True):
        assert run_exe(exe, *argv, stdin=stdin, as_nobody=nobody) == want
    proc = run_tinyelf("size", exe)
    assert proc.returncode == 0 and f"compressed by tinyelf (codec {codec}, --wx)" in proc.stdout
    proc = run_tinyelf("inspect", "--unpacked", exe)
    assert proc.returncode == 0 and "(unpacked)" in proc.stdout, proc.stderr
