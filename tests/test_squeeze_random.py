"""Random programs through every layout: the squeeze (holes, split code,
merged strings, folded functions, trimmed zeros) must never change what a
program does.

Each program is generated from a fixed seed as GNU assembly: a _start that
updates %edi with arithmetic, loops (relative branches), forward jumps over
junk, calls to small functions (some identical, so they fold), byte loads
from read-only data, merged strings and writable data and bss; it exits with
%edi.  The expected status is computed here in Python.  Every program is
linked with every layout (and --wx) and run; layouts may refuse a program
(absolute 32-bit addresses above 4 GiB; for dyn68, loaded where the kernel
chooses, any absolute address, --wx, or content that reads as a big p_align)
but never produce a wrong one.
"""
from __future__ import annotations

import random

import pytest

from asmutil import assemble, requires_as
from conftest import layout_names, layout_specs, run_exe, run_tinyelf

LAYOUTS = layout_names()
#: layouts that take any of these programs: two program headers for --wx, any
#: base, any absolute address, the entry anywhere (and "auto", which has them)
TAKE_ALL = {"auto"} | {s.name for s in layout_specs() if s.max_phnum >= 2 and s.abs32_ok
                       and not s.pic_only and s.entry_offset is None}
M32 = 0xFFFFFFFF


def generate(seed: int):
    rnd = random.Random(seed)
    pic = rnd.random() < 0.7
    lines = ["    .globl _start", '    .section .text._start,"ax",@progbits', "_start:",
             "    xor %edi, %edi"]
    funcs, data, strings = [], [], []
    edi = 0
    label = 0

    def addr(sym, reg):
        return f"    lea {sym}(%rip), %{reg}" if pic else f"    mov ${sym}, %e{reg[1:]}"

    for _ in range(rnd.randint(2, 12)):
        kind = rnd.choice(["add", "xor", "loop", "jump", "call", "data", "string", "bss",
                           "wdata"])
        if kind == "add":
            k = rnd.randint(-128, 127)
            lines.append(f"    add ${k}, %edi")
            edi = (edi + k) & M32
        elif kind == "xor":
            k = rnd.randint(0, M32)
            lines.append(f"    xor ${k:#x}, %edi")
            edi ^= k
        elif kind == "loop":
            n, k = rnd.randint(1, 6), rnd.randint(1, 50)
            label += 1
            lines += [f"    mov ${n}, %ecx", f".Lloop{label}:", f"    add ${k}, %edi",
                      "    dec %ecx", f"    jnz .Lloop{label}"]
            edi = (edi + n * k) & M32
        elif kind == "jump":
            label += 1
            junk = ", ".join(str(rnd.randint(0, 255)) for _ in range(rnd.randint(1, 5)))
            lines += [f"    jmp .Lover{label}", f"    .byte {junk}", f".Lover{label}:"]
        elif kind == "call":
            k = rnd.choice([3, 5, rnd.randint(1, 100)])       # repeats fold
            name = f"f{len(funcs)}"
            funcs.append((name, k))
            lines.append(f"    call {name}")
            edi = (edi + k) & M32
        elif kind == "data":
            blob = bytes(rnd.randint(0, 255) for _ in range(rnd.randint(1, 20)))
            i = rnd.randrange(len(blob))
            name = f"d{len(data)}"
            data.append((name, blob, "a", rnd.choice([1, 1, 4, 8])))
            lines += [addr(name, "rsi"), f"    movzbl {i}(%rsi), %eax", "    add %eax, %edi"]
            edi = (edi + blob[i]) & M32
        elif kind == "string":
            base = rnd.choice(["hello world", "world", "ld", "tiny", "elf tiny", "x"])
            name = f"s{len(strings)}"
            strings.append((name, base))
            i = rnd.randrange(len(base) + 1)
            lines += [addr(name, "rsi"), f"    movzbl {i}(%rsi), %eax", "    add %eax, %edi"]
            edi = (edi + (base.encode() + b"\0")[i]) & M32
        elif kind in ("bss", "wdata"):
            name = f"w{len(data)}"
            size = rnd.randint(1, 64)
            init = bytes(size) if kind == "bss" else bytes(rnd.randint(0, 3) for _ in range(size))
            data.append((name, init, "bss" if kind == "bss" else "aw", rnd.choice([1, 8])))
            i = rnd.randrange(size)
            k = rnd.randint(1, 200)
            lines += [addr(name, "rsi"), f"    addb ${k}, {i}(%rsi)",
                      f"    movzbl {i}(%rsi), %eax", "    add %eax, %edi"]
            edi = (edi + ((init[i] + k) & 0xFF)) & M32
    lines += ["    mov $60, %eax", "    syscall"]
    for name, k in funcs:
        lines += [f'    .section .text.{name},"ax",@progbits', f"{name}:",
                  f"    add ${k}, %edi", "    ret"]
    for name, blob, kind, align in data:
        if kind == "bss":
            lines += [f'    .section .bss.{name},"aw",@nobits', f"    .p2align {align.bit_length() - 1}",
                      f"{name}: .zero {len(blob)}"]
        else:
            flags = "aw" if kind == "aw" else "a"
            lines += [f'    .section .{"data" if kind == "aw" else "rodata"}.{name},"{flags}",@progbits',
                      f"    .p2align {align.bit_length() - 1}",
                      f"{name}: .byte {', '.join(map(str, blob))}"]
    for name, text in strings:
        lines += ['    .section .rodata.str1.1,"aMS",@progbits,1', f'{name}: .asciz "{text}"']
    return "\n".join(lines) + "\n", edi & 0xFF, pic


@requires_as
@pytest.mark.parametrize("seed", range(24))
def test_random_program_every_layout(build_dir, tmp_path, seed):
    from tinyelf.linker.driver import run as link
    from tinyelf.errors import TinyElfError
    from tinyelf.linker.model import LinkOptions
    from tinyelf.tools.output import write_atomic
    source, status, pic = generate(seed)
    obj = assemble(source, tmp_path / f"r{seed}.o")
    for layout in LAYOUTS:
        for wx in (False, True):
            exe = build_dir / f"rand{seed}_{layout}{'_wx' if wx else ''}"
            try:
                lk = link([obj], LinkOptions(layout=layout, wx=wx))
            except TinyElfError as exc:
                assert layout not in TAKE_ALL, (source, exc.messages)
                msg = exc.messages[0]
                assert ("absolute 32-bit" in msg and not pic) or "at most 1 program header" in msg \
                    or ("kernel chooses" in msg and not pic) or "--wx cannot be honoured" in msg \
                    or "p_align" in msg, (layout, wx, msg)
                continue
            write_atomic(exe, lk.output)
            assert run_exe(exe) == (b"", status), (layout, wx, source)
    # the default, as an ordinary user, through the command line
    exe = build_dir / f"rand{seed}_cli"
    assert run_tinyelf("pack", obj, "-o", exe).returncode == 0
    assert run_exe(exe, as_nobody=True) == (b"", status)


@requires_as
def test_random_programs_do_split_code(build_dir, tmp_path):
    """The random programs really exercise code splitting: the first eight
    seeds, linked with every layout, give split code sections (measured when
    written: 40 over 8 seeds x 6 layouts), and each split program runs."""
    from tinyelf.errors import TinyElfError
    from tinyelf.linker.driver import run as link
    from tinyelf.linker.model import LinkOptions
    from tinyelf.tools.output import write_atomic
    splits = {}
    for seed in range(8):
        source, status, _pic = generate(seed)
        obj = assemble(source, tmp_path / f"s{seed}.o")
        for layout in LAYOUTS:
            try:
                lk = link([obj], LinkOptions(layout=layout))
            except TinyElfError:
                continue        # refusals are test_random_program_every_layout's business
            n = sum(1 for s in lk.kept if s.pieces)
            if n:
                splits[layout] = splits.get(layout, 0) + n
                exe = build_dir / f"split{seed}_{layout}"
                write_atomic(exe, lk.output)
                assert run_exe(exe) == (b"", status), (seed, layout, source)
    assert sum(splits.values()) >= 10, splits
