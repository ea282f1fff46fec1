"""Layouts: every layout on every sample, executed as root and as nobody;
strict outputs parsed by readelf and lief; constraints and fallbacks."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from asmutil import assemble, requires_as
from conftest import layout_names, layout_specs, requires_rustc, run_exe, run_tinyelf

LAYOUTS = layout_names()
SPECS = {s.name: s for s in layout_specs()}
HELLO = b"Hello, world!\n"
RUST_PIC = ("-C", "relocation-model=pie")

SAMPLES = [
    # id, source, extra compile flags, stdout, status, has absolute 32-bit relocations
    pytest.param("hello.rs", (), HELLO, 0, True, marks=requires_rustc, id="hello.rs"),
    pytest.param("exit.rs", (), b"", 42, False, marks=requires_rustc, id="exit.rs"),
    pytest.param("hello.c", (), HELLO, 0, True, id="hello.c"),
    pytest.param("hello.rs", RUST_PIC, HELLO, 0, False, marks=requires_rustc, id="hello.rs-pie"),
    pytest.param("hello.c", ("-fPIE",), HELLO, 0, False, id="hello.c-fPIE"),
]


def report(*args):
    proc = run_tinyelf("pack", *args, "--report", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("source,extra,stdout,status,abs32", SAMPLES)
def test_every_layout_runs(sample_obj, build_dir, layout, source, extra, stdout, status, abs32):
    obj = sample_obj(source, extra)
    exe = build_dir / f"lay_{source}_{'pic' if extra else 'static'}_{layout}"
    proc = run_tinyelf("pack", obj, "--layout", layout, "-o", exe)
    spec = SPECS.get(layout)
    if spec is not None and spec.pic_only and abs32:
        # loaded where the kernel chooses: absolute addresses are refused
        assert proc.returncode == 1
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"tinyelf: error: layout {layout} is "
                                                        "loaded at an address the kernel chooses")
        assert "absolute address: R_X86_64_32" in lines[0]
        assert not exe.exists()
        return
    if spec is not None and not spec.abs32_ok and abs32:
        # the layout loads above 4 GiB: refused with the reason, nothing written
        assert proc.returncode == 1
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"tinyelf: error: layout {layout}")
        assert "absolute 32-bit relocations" in lines[0] and "R_X86_64_32" in lines[0]
        assert not exe.exists()
        return
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    runs = 4 if spec is not None and spec.pic_only else 1   # ASLR: a new address every time
    for _ in range(runs):
        assert run_exe(exe) == (stdout, status)
        assert run_exe(exe, as_nobody=True) == (stdout, status)
    size = exe.stat().st_size
    if spec is not None:
        assert size >= spec.header_end(1)
        data = exe.read_bytes()
        assert int.from_bytes(data[32:40], "little") == spec.phoff              # e_phoff
        assert int.from_bytes(data[16:18], "little") == spec.e_type             # e_type


@pytest.mark.parametrize("source,extra,stdout,status,abs32", SAMPLES)
def test_strict_is_clean_for_readelf_and_lief(sample_obj, build_dir, source, extra, stdout,
                                              status, abs32):
    if shutil.which("readelf") is None:
        pytest.skip("readelf not installed")
    obj = sample_obj(source, extra)
    exe = build_dir / f"strict_{source}_{len(extra)}"
    assert run_tinyelf("pack", obj, "--layout", "strict", "-o", exe).returncode == 0
    proc = subprocess.run(["readelf", "-h", "-l", "-W", str(exe)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert "warning" not in proc.stdout.lower() and "error" not in proc.stdout.lower()
    assert "EXEC (Executable file)" in proc.stdout
    assert "Advanced Micro Devices X86-64" in proc.stdout
    from tinyelf.elf.lief_check import parse_executable
    data = exe.read_bytes()
    info = parse_executable(data)
    assert info["type"] == "EXEC" and info["machine"] == "X86_64"
    assert info["phoff"] == 64
    loads = [s for s in info["segments"] if s["type"] == "LOAD"]
    assert len(loads) == 1
    seg = loads[0]
    assert seg["offset"] == 0 and seg["filesz"] <= len(data) and seg["memsz"] >= seg["filesz"]
    assert seg["vaddr"] <= info["entry"] < seg["vaddr"] + seg["filesz"]
    assert run_exe(exe, as_nobody=True) == (stdout, status)


@requires_rustc
def test_size_ceilings(sample_obj, build_dir):
    """The issue's targets (ceilings): Rust hello <= 112, Rust exit <= 80, C hello <= 125."""
    for source, ceiling, expected in (("hello.rs", 112, (HELLO, 0)), ("exit.rs", 80, (b"", 42)),
                                      ("hello.c", 125, (HELLO, 0))):
        exe = build_dir / f"ceiling_{source}"
        assert run_tinyelf("pack", sample_obj(source), "-o", exe).returncode == 0
        assert exe.stat().st_size <= ceiling, (source, exe.stat().st_size)
        assert run_exe(exe, as_nobody=True) == expected


def test_auto_picks_the_smallest_and_reports_the_others(sample_obj, build_dir):
    obj = sample_obj("hello.c")
    rep = report(obj, "-o", build_dir / "auto_c")
    sizes = {c["layout"]: c["size"] for c in rep["considered"]}
    assert rep["file"] == min(s for s in sizes.values() if s is not None)
    assert sizes["overlap80"] is None          # absolute 32-bit relocations
    assert "dyn68" not in sizes                # opt-in only, never considered by auto
    assert sum(rep["bytes"].values()) == rep["file"]
    assert rep["bytes"]["code"] + rep["bytes"]["jumps"] >= 35
    used = sum(h["used"] for h in rep["holes"])
    # content in the headers: the holes, plus what overlaps the last p_align
    assert used <= rep["header"]["content_in_header"] <= used + rep["header"]["tail_overlap"]
    # every piece of split code or section in a hole is named
    assert any("text._start" in c["what"] for h in rep["holes"] for c in h["contents"])
    assert rep["header"]["overlap"] == 64 + 56 - rep["header"]["end"]


ABS32_PROG = """
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    mov $1, %eax
    mov $1, %edi
    mov $msg, %esi
    mov $6, %edx
    syscall
    mov $60, %eax
    mov $3, %edi
    syscall
    .section .rodata.msg,"a",@progbits
msg: .ascii "abs32\\n"
"""


@requires_as
def test_absolute_32bit_relocations_fall_back(build_dir, tmp_path):
    """An input that overlap80 (base above 4 GiB) cannot hold: the default
    falls back to a layout below 4 GiB and the output runs; asking for
    overlap80 explicitly is an error that says why."""
    obj = assemble(ABS32_PROG, tmp_path / "abs.o")
    exe = build_dir / "abs32_auto"
    rep = report(obj, "-o", exe)
    assert rep["layout"] not in ("overlap80", "dyn68")
    reasons = {c["layout"]: c["reason"] for c in rep["considered"]}
    assert "absolute 32-bit" in reasons["overlap80"]
    proc = run_tinyelf("pack", obj, "--layout", "dyn68", "-o", tmp_path / "abs32_dyn")
    assert proc.returncode == 1 and "absolute address: R_X86_64_32 at " in proc.stderr
    assert rep["base"] < 1 << 32
    assert run_exe(exe) == (b"abs32\n", 3)
    assert run_exe(exe, as_nobody=True) == (b"abs32\n", 3)
    bad = tmp_path / "abs32_80"
    proc = run_tinyelf("pack", obj, "--layout", "overlap80", "-o", bad)
    assert proc.returncode == 1 and not bad.exists()
    assert "R_X86_64_32 at " in proc.stderr and "abs.o:.text._start+0xb" in proc.stderr


BIG_BSS_PROG = """
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    lea buf(%rip), %rdi
    movb $7, 20000(%rdi)
    movzbl 20000(%rdi), %edi
    add 4(%rip), %dil
    sub 4(%rip), %dil
    mov $60, %eax
    syscall
    .section .bss.buf,"aw",@nobits
buf: .zero 20001
"""


@requires_as
def test_bss_beyond_the_file_page_falls_back(build_dir, tmp_path):
    """overlap80 cannot zero memory beyond the file's last page (p_memsz must
    equal p_filesz there): a program with 20 KB of bss is refused by it and
    linked with another layout by default."""
    obj = assemble(BIG_BSS_PROG, tmp_path / "bss.o")
    bad = tmp_path / "bss80"
    proc = run_tinyelf("pack", obj, "--layout", "overlap80", "-o", bad)
    assert proc.returncode == 1 and not bad.exists()
    assert "bss" in proc.stderr and "overlap80" in proc.stderr
    exe = build_dir / "bss_auto"
    rep = report(obj, "-o", exe)
    assert rep["layout"] not in ("overlap80",) and rep["bss_memory"] == 20001
    assert run_exe(exe, as_nobody=True) == (b"", 7)


LOOP_PROG = """
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    xor %edi, %edi
    mov $5, %ecx
1:  add $3, %edi
    dec %ecx
    jnz 1b
    call helper
    add $100, %edi
    mov $60, %eax
    syscall
    .section .text.helper,"ax",@progbits
helper:
    add $1, %edi
    ret
"""


@requires_as
@pytest.mark.parametrize("layout", LAYOUTS)
def test_split_code_keeps_branches_inside_a_piece(build_dir, tmp_path, layout):
    obj = assemble(LOOP_PROG, tmp_path / "loop.o")
    exe = build_dir / f"loop_{layout}"
    rep = report(obj, "--layout", layout, "-o", exe)
    assert run_exe(exe) == (b"", 116)
    assert run_exe(exe, as_nobody=True) == (b"", 116)
    if layout == "strict":
        assert rep["header"]["content_in_header"] == 0 and not rep["holes"]


def test_splitter_refuses_crossing_branches():
    from tinyelf.linker.holes import CodeInfo, plan_chunks
    # 4 two-byte instructions; the one at 6 branches back to 2
    info = CodeInfo(size=8, bounds=[0, 2, 4, 6, 8], ends={2: "nop", 4: "nop", 6: "nop", 8: "ret"},
                    intra=[(6, 2)], terminators=frozenset({"ret"}), jump=2)
    end, pieces = plan_chunks(info, [[100, 4], [200, 10]])
    assert end == 8
    for a, b, _h, _jmp in pieces:
        assert (a <= 6 < b) == (a <= 2 < b)
    # a piece that needs a jump but has no room for it is not made
    end, pieces = plan_chunks(info, [[100, 3]])
    assert pieces == [] and end == 0


def test_no_holes_switch(sample_obj, build_dir):
    obj = sample_obj("hello.c")
    rep = report(obj, "--no-holes", "-o", build_dir / "noholes")
    assert rep["header"]["content_in_header"] == 0
    assert run_exe(build_dir / "noholes") == (HELLO, 0)


def test_size_command_decodes_headers(sample_obj, build_dir):
    exe = build_dir / "size_me"
    assert run_tinyelf("pack", sample_obj("hello.c"), "-o", exe).returncode == 0
    proc = run_tinyelf("size", exe, "--json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["file"] == exe.stat().st_size
    assert rep["layout"] in ("overlap104", "overlap103", "overlap112", "overlap80", "dyn68")
    assert rep["segments"][0]["perm"] == "R-X" and rep["warnings"] == []
    text = run_tinyelf("size", exe).stdout
    assert "headers" in text and "LOAD 0 R-X" in text
    proc = run_tinyelf("size", build_dir)
    assert proc.returncode == 1 and proc.stderr.startswith("tinyelf: error: ")


def test_entry_prefix_rule():
    """overlap80 starts executing at file byte 1: "ELF" (45 4c 46) runs as REX
    prefixes in front of the first instruction.  Only instructions that mean
    the same after them may start there."""
    from tinyelf import arch
    x86 = arch.get("x86_64")
    assert x86.prefix_safe(b"\x6a\x3c\x58", b"ELF")           # push $60
    assert x86.prefix_safe(b"\x48\x8d\x35\0\0\0\0", b"ELF")   # lea (its own REX.W wins)
    assert not x86.prefix_safe(b"\x89\xc1", b"ELF")           # mov %eax,%ecx -> %r8d...
    assert not x86.prefix_safe(b"\x8b\x07", b"ELF")           # mov (%rdi),%eax -> r8/r15


MODRM_FIRST = """
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    mov %eax, %ecx
    lea msg(%rip), %rsi
    mov $1, %eax
    mov $1, %edi
    mov $3, %edx
    syscall
    mov $60, %eax
    mov $5, %edi
    syscall
    .section .rodata.msg,"a",@progbits
msg: .ascii "ok\\n"
"""


@requires_as
def test_overlap80_jumps_to_an_entry_that_the_prefixes_would_change(build_dir, tmp_path):
    obj = assemble(MODRM_FIRST, tmp_path / "modrm.o")
    exe = build_dir / "modrm80"
    rep = report(obj, "--layout", "overlap80", "-o", exe)
    assert rep["layout"] == "overlap80" and rep["entry"] == (5 << 32) + 1
    first = rep["holes"][0]["contents"][0]
    assert first["offset"] == 4 and first["what"] == "jmp to the entry"
    assert run_exe(exe) == (b"ok\n", 5)
    assert run_exe(exe, as_nobody=True) == (b"ok\n", 5)


def test_wants_pic_is_exposed():
    from tinyelf import arch
    from tinyelf.linker import layouts
    for name in arch.names():
        a = arch.get(name)
        specs = layouts.for_arch(a)
        # auto may choose a layout only PIC code can use; opt-in ones say it with abs32_ok
        assert layouts.wants_pic(a) is any((not l.abs32_ok or l.pic_only) and l.auto for l in specs)
        names = [l.name for l in specs]
        assert len(set(names)) == len(names) and "auto" not in names
        assert all(layouts.get(n, a).name == n for n in names)
        # largest header first
        ends = [l.header_end(1) for l in specs]
        assert ends == sorted(ends, reverse=True), dict(zip(names, ends))
        assert any(l.spec_valid for l in specs)


def test_unknown_layout_is_a_usage_error(sample_obj, tmp_path):
    out = tmp_path / "x"
    proc = run_tinyelf("pack", sample_obj("hello.c"), "--layout", "tiny", "-o", out)
    assert proc.returncode == 1 and not out.exists()
    assert proc.stderr.startswith("tinyelf: error: ")
    assert all(name in proc.stderr for name in LAYOUTS), proc.stderr
