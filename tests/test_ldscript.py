"""``pack --emit-ld-script``: GNU ld, given tinyelf's placement, must produce
the same loaded bytes (code and data, at the same addresses) as tinyelf.

Both outputs are read through their program headers only (PT_LOAD: file
bytes, then zeros up to p_memsz); header bytes are not compared.  Any other
difference means one of the two linkers resolved, relocated or relaxed
something differently: a bug to find, not a tolerance to add.
"""
from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "corpus"))

import corpus  # noqa: E402
from conftest import requires_ld, run_exe, run_tinyelf  # noqa: E402

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


SHF_MERGE = 0x10


def unmerged_copy(path, outdir: Path) -> str:
    """A copy of an object or archive with SHF_MERGE cleared on every section.

    GNU ld always rebuilds mergeable sections (deduplicated, tail-merged,
    reordered strings and constants) even when one input section is alone;
    tinyelf copies them as they are.  Both are right, but the bytes cannot
    match, so both linkers get copies without the flag."""
    listing = subprocess.run(["readelf", "-SW", str(path)], capture_output=True, text=True,
                             check=True).stdout
    args, seen = [], set()
    for line in listing.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+([A-Za-z]*)\s+\d+\s+\d+\s+\d+$", line)
        if not m or "M" not in m.group(2) or m.group(1) in seen:
            continue
        name, flags = m.group(1), m.group(2)
        seen.add(name)
        kind = "code" if "X" in flags else "data"
        ro = "" if "W" in flags else ",readonly"
        args += ["--set-section-flags", f"{name}=alloc,load,contents,{kind}{ro}"]
    out = outdir / ("nomerge-" + Path(path).name)
    if not args:
        return str(path)
    subprocess.run(["objcopy", *args, str(path), str(out)], check=True, capture_output=True)
    return str(out)


def ld_with_script(inputs, script_text: str, workdir: Path) -> bytes:
    script = workdir / "prog.ld-script"
    script.write_text(script_text)
    ld_out = workdir / "prog.ld"
    cmd = ["ld", "-static", "-nostdlib", "-N", "--no-warn-rwx-segments", "-T", str(script),
           "-o", str(ld_out)]
    direct = [str(i) for i in inputs if not str(i).endswith((".a", ".rlib"))]
    archives = [str(i) for i in inputs if str(i).endswith((".a", ".rlib"))]
    cmd += direct + (["--start-group", *archives, "--end-group"] if archives else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"ld -T {script} failed: {r.stderr}\n{script_text}"
    ld_out.chmod(0o755)
    return ld_out.read_bytes()


def explain_relaxations(lk, mine: bytes, theirs: bytearray, lo: int) -> int:
    """Where tinyelf relaxed ``mov foo@GOTPCREL(%rip), %reg`` to
    ``lea foo(%rip), %reg`` and GNU ld to ``mov $foo, %reg`` (its choice for
    non-PIC outputs: same length, same value), copy tinyelf's bytes over
    ld's.  Returns how many sites it explained; anything else stays a
    difference."""
    n = 0
    for (sec, r_off), kind in lk.relaxed.items():
        if kind != "lea":
            continue
        p = sec.addr + r_off - lo           # the 32-bit field
        if mine[p - 2] != 0x8D or theirs[p - 2] != 0xC7:
            continue
        reg_lea = (mine[p - 1] >> 3) & 7
        if theirs[p - 1] != 0xC0 | reg_lea:
            continue
        target_lea = sec.addr + r_off + 4 + int.from_bytes(mine[p:p + 4], "little", signed=True)
        rex_lea, rex_mov = mine[p - 3], theirs[p - 3]
        # lea carries the register in ModRM.reg (REX.R), mov $imm in ModRM.rm (REX.B)
        if (rex_lea & 0xF0) == 0x40 and (rex_mov & 0xF0) == 0x40:
            if (rex_lea & 0x8) != (rex_mov & 0x8) or bool(rex_lea & 4) != bool(rex_mov & 1):
                continue
        imm = int.from_bytes(theirs[p:p + 4], "little", signed=(rex_mov & 0xF8) == 0x48)
        if imm != target_lea:
            continue
        start = p - 3 if (rex_lea & 0xF0) == 0x40 else p - 2
        theirs[start:p + 4] = mine[start:p + 4]
        n += 1
    return n


def ld_symbol(path: Path, name: str) -> int | None:
    out = subprocess.run(["nm", str(path)], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    return None


def explain_got(lk, mine: bytes, theirs: bytearray, lo: int, ld_got: int | None) -> int:
    """Both linkers make their own GOT: tinyelf's _GLOBAL_OFFSET_TABLE_ is
    its first slot, GNU ld's is the start of .got.plt (three reserved words,
    placed elsewhere by the script).  So GOT-relative fields legitimately
    differ.  Each one is checked to mean the same thing -- GOTOFF/GOTPC
    differ by exactly the distance between the two GOT bases, GOT and
    GOTPCREL fields lead, in each image, to a slot holding the same address
    -- and then tinyelf's bytes are copied over ld's.  tinyelf's GOT words
    are compared through those references, not by position."""
    from tinyelf.arch import F_GOT, F_GOTOFF, F_GOTPC, F_GOTPCREL
    if lk.got is None:
        return 0
    got_t = lk.got.addr
    mask = {4: (1 << 32) - 1, 8: (1 << 64) - 1}
    mine_mem = bytes(mine)

    def word(buf, addr, size=8):
        return int.from_bytes(buf[addr - lo:addr - lo + size], "little")

    n = 0
    for sec in lk.kept:
        if sec.obj is lk.synthetic:
            continue
        for r_off, rtype, _sym, addend in sec.relocs:
            spec = lk.arch.relocs[rtype]
            if spec.formula not in (F_GOT, F_GOTOFF, F_GOTPC, F_GOTPCREL) or spec.size not in mask:
                continue
            if (sec, r_off) in lk.relaxed:
                continue
            m = mask[spec.size]
            P = sec.addr + r_off
            v_t, v_l = word(mine_mem, P, spec.size), word(theirs, P, spec.size)
            if v_t == v_l:
                continue
            if ld_got is None:
                continue
            if spec.formula == F_GOTOFF:
                ok = v_l == (v_t + got_t - ld_got) & m
            elif spec.formula == F_GOTPC:
                ok = v_l == (v_t - got_t + ld_got) & m
            else:
                if spec.formula == F_GOT:
                    slot_t, slot_l = (got_t + v_t - addend) & m, (ld_got + v_l - addend) & m
                else:  # GOTPCREL: G + GOT + A - P
                    slot_t, slot_l = (v_t - addend + P) & m, (v_l - addend + P) & m
                    if spec.size == 4:
                        sign = lambda x: x - (1 << 32) if x >> 31 else x  # noqa: E731
                        slot_t = sign(v_t) - addend + P
                        slot_l = sign(v_l) - addend + P
                ok = (lk.got.addr <= slot_t < lk.got.addr + lk.got.size
                      and lo <= slot_l < lo + len(theirs)
                      and word(mine_mem, slot_t) == word(theirs, slot_l))
            if ok:
                theirs[P - lo:P - lo + spec.size] = mine_mem[P - lo:P - lo + spec.size]
                n += 1
    g = lk.got.addr - lo
    theirs[g:g + lk.got.size] = mine_mem[g:g + lk.got.size]
    return n


def explain_plain_gotpcrel(lk, mine: bytes, theirs: bytearray, lo: int) -> int:
    """GNU ld also turns ``mov foo@GOTPCREL(%rip), %reg`` with a plain
    R_X86_64_GOTPCREL (not GOTPCRELX) into ``lea foo(%rip), %reg``; tinyelf
    follows the psABI and relaxes only the X types, so it keeps the GOT load.
    Same value either way: checked (tinyelf's slot holds ld's lea target),
    then tinyelf's bytes are copied over ld's."""
    R_X86_64_GOTPCREL = 9
    n = 0
    for sec in lk.kept:
        if sec.obj is lk.synthetic:
            continue
        for r_off, rtype, _sym, addend in sec.relocs:
            if rtype != R_X86_64_GOTPCREL or addend != -4 or (sec, r_off) in lk.relaxed:
                continue
            P = sec.addr + r_off
            p = P - lo
            if mine[p - 2] != 0x8B or theirs[p - 2] != 0x8D or mine[p - 1] != theirs[p - 1]:
                continue
            slot = P + 4 + int.from_bytes(mine[p:p + 4], "little", signed=True)
            target = P + 4 + int.from_bytes(theirs[p:p + 4], "little", signed=True)
            if int.from_bytes(mine[slot - lo:slot - lo + 8], "little") == target:
                theirs[p - 2:p + 4] = mine[p - 2:p + 4]
                n += 1
    return n


#: tinyelf settings GNU ld can reproduce: headers apart from the contents, no
#: code in header holes, no string merging or function folding of tinyelf's
#: own (where this tinyelf has those options at all)
COMPARABLE = {"layout": "strict", "holes": False, "split_code": False,
              "merge_strings": False, "fold_functions": False}
COMPARABLE_FLAGS = {"layout": ("--layout", "strict"), "holes": ("--no-holes",),
                    "split_code": ("--no-split-code",), "merge_strings": ("--no-merge-strings",),
                    "fold_functions": ("--no-fold-functions",)}


def comparable_options():
    import dataclasses
    from tinyelf.linker.model import LinkOptions
    have = {f.name for f in dataclasses.fields(LinkOptions)}
    return LinkOptions(**{k: v for k, v in COMPARABLE.items() if k in have})


def comparable_flags():
    import dataclasses
    from tinyelf.linker.model import LinkOptions
    have = {f.name for f in dataclasses.fields(LinkOptions)}
    return [a for k, flags in COMPARABLE_FLAGS.items() if k in have for a in flags]


def compare_link(inputs, workdir: Path):
    """tinyelf in process (for its relaxation decisions) and ld -T its script:
    assert the same loaded bytes; return (tinyelf bytes, ld bytes, explained)."""
    from tinyelf.linker import driver
    from tinyelf.tools import ldscript
    lk = driver.run(inputs, comparable_options())
    script = ldscript.render(lk)
    ld = ld_with_script(inputs, script, workdir)
    tiny = lk.output
    lo, hi = tinyelf_range(tiny)
    mine = read_memory(loaded_memory(tiny), lo, hi - lo)
    theirs = read_memory(loaded_memory(ld), lo, hi - lo)
    assert theirs is not None, f"GNU ld does not load all of [{lo:#x}, {hi:#x})"
    theirs = bytearray(theirs)
    explained = explain_relaxations(lk, mine, theirs, lo)
    explained += explain_plain_gotpcrel(lk, mine, theirs, lo)
    explained += explain_got(lk, mine, theirs, lo, ld_symbol(workdir / "prog.ld", "_GLOBAL_OFFSET_TABLE_"))
    if mine != bytes(theirs):
        i = first_difference(mine, theirs)
        where = next((s.where() for s in lk.kept if s.addr <= lo + i < s.addr + max(s.size, 1)), "?")
        pytest.fail(f"loaded bytes differ first at {lo + i:#x} ({where}): tinyelf "
                    f"{mine[i:i + 16].hex()} GNU ld {theirs[i:i + 16].hex()}\n{script}")
    return tiny, ld, explained


# A spread of the corpus: every program, several code models and sections settings.
FLAGSETS = ("O0", "Os-pic", "O2-fs", "O2-large", "Os-large-pic-fs", "z", "z-pic")
VARIANTS = [v for v in corpus.VARIANTS
            if not v.reject and v.name.rsplit(".", 1)[1] in FLAGSETS
            and v.program not in ("hello_c", "main_c", "wc_c", "prodfactors_bad_rs")]


@requires_ld
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_ld_script_reproduces_tinyelf(variant, build_dir, tmp_path):
    objs, archives = corpus.build_objects(variant, str(tmp_path), str(build_dir / "ldscript-support"))
    original = list(objs) + list(archives)
    inputs = [unmerged_copy(i, tmp_path) for i in original]
    tiny, _ld, _n = compare_link(inputs, tmp_path)
    # and ld's output of the script runs like tinyelf's
    exe = tmp_path / "prog.tinyelf"
    exe.write_bytes(tiny)
    exe.chmod(0o755)
    run = lambda p: subprocess.run([str(p), *variant.argv], input=variant.stdin,  # noqa: E731
                                   capture_output=True, env=dict(variant.env), timeout=20)
    a, b = run(exe), run(tmp_path / "prog.ld")
    assert (a.stdout, a.returncode) == (b.stdout, b.returncode)


def test_script_shape(tmp_path, sample_obj):
    """The script names every kept section and discards the rest."""
    obj = sample_obj("hello.c")
    out, script = tmp_path / "h", tmp_path / "h.ld"
    proc = run_tinyelf("pack", obj, "-o", out, "--emit-ld-script", script, *comparable_flags())
    assert proc.returncode == 0, proc.stderr
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


BUILTIN_USER = r"""
extern void *memcpy(void *, const void *, unsigned long);
extern void *memset(void *, int, unsigned long);
struct big { char b[300]; };
static struct big g = {{1, 2, 3}};
static struct big h;
static inline long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
void _start(void) { memcpy(&h, &g, sizeof g); memset(g.b, 7, 100); sys3(60, h.b[2] + g.b[50], 0, 0); }
"""


@requires_ld
def test_tinyelf_builtins_spelled_out(tmp_path):
    """memcpy/memset come from tinyelf's builtins, which no file holds: the
    script spells their bytes out with BYTE() and defines their names."""
    from tinyelf.tools import toolchain
    src = tmp_path / "b.c"
    src.write_text(BUILTIN_USER)
    obj = toolchain.compile_c(src, tmp_path / "b.o", extra=("-O2", "-fno-builtin"))
    tiny, _ld, _n = compare_link([obj], tmp_path)
    assert "BYTE(" in (tmp_path / "prog.ld-script").read_text()
    exe = tmp_path / "prog.tinyelf"
    exe.write_bytes(tiny)
    exe.chmod(0o755)
    assert run_exe(exe) == run_exe(tmp_path / "prog.ld") == (b"", 10)


FOLDABLE = r"""
static inline long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
__attribute__((noinline)) int f1(int x) { return x * 3 + 1; }
__attribute__((noinline)) int f2(int x) { return x * 3 + 1; }
void _start(void) {
    sys3(1, 1, (long)"hello world\n", 12);
    sys3(1, 1, (long)"world\n", 6);
    sys3(60, f1(2) + f2(3), 0, 0);
}
"""


@requires_ld
def test_unreproducible_links_refused_clearly(tmp_path):
    """Code in header holes, merged strings, folded functions: GNU ld cannot
    be told about them, so the script is refused with what to add instead of
    being written wrong; with those options it works."""
    from tinyelf.tools import toolchain
    src = tmp_path / "m.c"
    src.write_text(FOLDABLE)
    obj = toolchain.compile_c(src, tmp_path / "m.o", extra=("-Os",))
    out, script = tmp_path / "m", tmp_path / "m.ld"
    for extra, needles in (((), ("--layout strict", "--no-merge-strings", "--no-fold-functions")),
                           (("--layout", "strict", "--no-holes"), ("--no-merge-strings",))):
        proc = run_tinyelf("pack", obj, "-o", out, "--emit-ld-script", script, *extra)
        assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
        assert all(n in proc.stderr for n in needles), proc.stderr
        assert not out.exists() and not script.exists()
    proc = run_tinyelf("pack", obj, "-o", out, "--emit-ld-script", script, *comparable_flags())
    assert proc.returncode == 0, proc.stderr
    ld_out = tmp_path / "m.ld-out"
    subprocess.run(["ld", "-static", "-nostdlib", "-N", "--no-warn-rwx-segments", "-T", str(script),
                    "-o", str(ld_out), str(obj)], check=True)
    assert run_exe(out) == run_exe(ld_out) == (b"hello world\nworld\n", 17)
