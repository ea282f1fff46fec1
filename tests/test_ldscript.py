"""``pack --emit-ld-script``: GNU ld, given tinyelf's placement, must produce
the same loaded bytes (code and data, at the same addresses) as tinyelf.

Both outputs are read through their program headers only (PT_LOAD: file
bytes, then zeros up to p_memsz); header bytes are not compared.  Any other
difference means one of the two linkers resolved, relocated or relaxed
something differently: a bug to find, not a tolerance to add.
"""
from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "corpus"))

import corpus  # noqa: E402
from conftest import requires_ld, run_exe, run_tinyelf  # noqa: E402
from test_differential import skip_reason, tinyelf_inputs  # noqa: E402

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD = 1


def loaded_memory(data: bytes) -> list[tuple[int, bytes]]:
    """[(vaddr, bytes)] of every PT_LOAD, bss zero-filled."""
    e = EHDR.unpack_from(data)
    phoff, phentsize, phnum = e[5], e[9], e[10]
    segs = []
    for i in range(phnum):
        p_type, _flags, off, vaddr, _pa, filesz, memsz, _al = PHDR.unpack_from(data, phoff + i * phentsize)
        if p_type == PT_LOAD:
            segs.append((vaddr, data[off:off + filesz] + bytes(memsz - filesz)))
    return segs


def read_memory(segs, addr: int, size: int) -> bytes | None:
    """The loaded bytes at [addr, addr+size), None if any of them is unmapped."""
    out = bytearray()
    pos = addr
    while pos < addr + size:
        for vaddr, content in segs:
            if vaddr <= pos < vaddr + len(content):
                take = min(addr + size, vaddr + len(content)) - pos
                out += content[pos - vaddr:pos - vaddr + take]
                pos += take
                break
        else:
            return None
    return bytes(out)


def first_difference(a: bytes, b: bytes) -> int:
    return next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)


def tinyelf_range(data: bytes) -> tuple[int, int]:
    """[start, end) of what tinyelf loads after its own headers."""
    e = EHDR.unpack_from(data)
    header_end = e[5] + e[9] * e[10]
    segs = [s for s in loaded_memory(data)]
    lo = min(v for v, _c in segs)
    hi = max(v + len(c) for v, c in segs)
    return lo + header_end, hi


def compare_with_ld(inputs, ld_inputs, archives, workdir: Path):
    """Link with tinyelf (+ script) and with ld -T script; return both files' bytes."""
    out, script = workdir / "prog.tinyelf", workdir / "prog.ld-script"
    proc = run_tinyelf("pack", *inputs, "-o", out, "--emit-ld-script", script)
    assert proc.returncode == 0, proc.stderr
    ld_out = workdir / "prog.ld"
    cmd = ["ld", "-static", "-nostdlib", "-N", "--no-warn-rwx-segments", "-T", str(script),
           "-o", str(ld_out), *map(str, ld_inputs)]
    if archives:
        cmd += ["--start-group", *map(str, archives), "--end-group"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"ld -T {script} failed: {r.stderr}\n{script.read_text()}"
    return out.read_bytes(), ld_out.read_bytes(), script.read_text()


def assert_same_loaded_bytes(tiny: bytes, ld: bytes, script: str):
    lo, hi = tinyelf_range(tiny)
    mine = read_memory(loaded_memory(tiny), lo, hi - lo)
    theirs = read_memory(loaded_memory(ld), lo, hi - lo)
    assert theirs is not None, f"GNU ld does not load all of [{lo:#x}, {hi:#x})"
    if mine != theirs:
        i = first_difference(mine, theirs)
        pytest.fail(f"loaded bytes differ first at {lo + i:#x}: tinyelf "
                    f"{mine[i:i + 16].hex()} GNU ld {theirs[i:i + 16].hex()}\n{script}")


# A spread of the corpus: every program, several code models and sections settings.
FLAGSETS = ("O0", "Os-pic", "O2-fs", "O2-large", "Os-large-pic-fs", "O2-pie", "z", "3", "z-pic")
VARIANTS = [v for v in corpus.VARIANTS
            if not v.reject and v.name.rsplit(".", 1)[1] in FLAGSETS
            and v.program not in ("hello_c", "main_c", "wc_c", "prodfactors_bad_rs")]


@requires_ld
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_ld_script_reproduces_tinyelf(variant, build_dir, tmp_path):
    reason = skip_reason(variant)
    if reason:
        pytest.skip(reason)
    objs, archives = corpus.build_objects(variant, str(tmp_path), str(build_dir / "ldscript-support"))
    inputs = tinyelf_inputs(objs, archives)
    # ld gets exactly tinyelf's inputs (the script names them as given)
    direct = [i for i in inputs if not i.endswith((".a", ".rlib"))]
    ars = [i for i in inputs if i.endswith((".a", ".rlib"))]
    tiny, ld, script = compare_with_ld(inputs, direct, ars, tmp_path)
    assert_same_loaded_bytes(tiny, ld, script)
    # and ld's output of the script runs like tinyelf's
    ld_exe = tmp_path / "prog.ld"
    ld_exe.chmod(0o755)
    run = lambda exe: subprocess.run([str(exe), *variant.argv], input=variant.stdin,  # noqa: E731
                                     capture_output=True, env=dict(variant.env), timeout=20)
    a, b = run(tmp_path / "prog.tinyelf"), run(ld_exe)
    assert (a.stdout, a.returncode) == (b.stdout, b.returncode)


def test_script_shape(tmp_path, sample_obj):
    """The script names every kept section and discards the rest."""
    obj = sample_obj("hello.c")
    out, script = tmp_path / "h", tmp_path / "h.ld"
    assert run_tinyelf("pack", obj, "-o", out, "--emit-ld-script", script).returncode == 0
    text = script.read_text()
    assert f'KEEP("{obj}"(".text._start"))' in text
    assert f'KEEP("{obj}"(".rodata.msg"))' in text
    assert "/DISCARD/ : { *(*) }" in text and "ENTRY(_start)" in text
    assert os.stat(script).st_mode & 0o777 == 0o644
    assert run_exe(out) == (b"Hello, world!\n", 0)


def test_script_over_input_refused(tmp_path, sample_obj):
    obj = tmp_path / "x.o"
    obj.write_bytes(sample_obj("hello.c").read_bytes())
    proc = run_tinyelf("pack", obj, "-o", tmp_path / "out", "--emit-ld-script", obj)
    assert proc.returncode == 1 and "also an input" in proc.stderr
    assert not (tmp_path / "out").exists()
