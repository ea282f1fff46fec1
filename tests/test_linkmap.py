"""--map: every kept section, every symbol, every dropped section; the
addresses are checked against the bytes of the output."""
from __future__ import annotations

import pytest
from pathlib import Path

from conftest import run_exe, run_tinyelf

GREET = r"""
static long sys3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}
static const char msg[] = "greetings\n";
__attribute__((noinline)) int greet(int times)
{
    for (int i = 0; i < times; i++)
        sys3(1, 1, (long)msg, sizeof msg - 1);
    return times + 1;
}
int unused_function(int x) { return x * 3; }
__attribute__((noinline)) int twice(int x) { return greet(x) + greet(1); }
int main(int argc, char **argv)
{
    (void)argv;
    return twice(argc);
}
"""


@pytest.fixture(scope="module")
def greet(build_dir):
    from tinyelf.tools import toolchain
    src = build_dir / "greet.c"
    src.write_text(GREET)
    obj = Path(toolchain.compile_c(src, build_dir / "greet.o", extra=("-g",)))
    exe = build_dir / "greet"
    args = ["pack", obj, "-o", exe, "--map", build_dir / "greet.map",
            "--debug-sidecar", build_dir / "greet.debug"]
    # the default layout: with --debug-sidecar that is one gdb can load
    proc = run_tinyelf(*args)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return obj, exe, build_dir / "greet.map", build_dir / "greet.debug"


def test_map_addresses_hold_the_functions_bytes(greet):
    from tinyelf.elf.reader import read_object
    from tinyelf.tools.linkmap import parse_map
    obj, exe, mapfile, _ = greet
    assert run_exe(exe, "x") == (b"greetings\ngreetings\ngreetings\n", 5)
    m = parse_map(mapfile.read_text())
    out = exe.read_bytes()
    inobj = read_object(str(obj), obj.read_bytes())
    sections = {s.name: s for s in inobj.sections if s is not None}
    syms = {name: (addr, size) for addr, size, _t, name in m["symbols"]}
    where = {name: (addr, frm) for addr, _s, _c, name, frm in m["sections"]}
    for func in ("greet", "twice", "main"):
        addr, size = syms[func]
        secname = f".text.{func}" if func != "main" else ".text.startup.main"
        sec = sections[secname]
        assert size == sec.size
        assert where[secname][0] == addr
        # relocated fields hold final values: compare everything else, piece
        # by piece (a layout may split code across header holes)
        masked = set()
        for off, rtype, _s, _a in sec.relocs:
            masked.update(range(off, off + 4))
        pieces = m["pieces"][(secname, where[secname][1], addr)]
        assert sum(length for _o, length, _a, _f in pieces) == size
        for start, length, _a, foff in pieces:
            for i in range(start, start + length):
                if i not in masked:
                    assert out[foff + i - start] == sec.data[i], (func, i)
    # the kept sections' addresses agree with their symbols
    kept = {name: (addr, size) for addr, size, _c, name, _f in m["sections"]}
    assert kept[".text.greet"][0] == syms["greet"][0]
    assert kept[".rodata.msg"][0] == syms["msg"][0]
    msg = next(p for (n, _f, _a), p in m["pieces"].items() if n == ".rodata.msg")[0]
    assert out[msg[3]:msg[3] + 10] == b"greetings\n"
    # the start stub is in the map, named as such
    assert any(f == "<start stub>" for _a, _s, _c, _n, f in m["sections"])


def test_map_lists_dropped_sections_with_reasons(greet):
    text = greet[2].read_text()
    dropped = text.split("Dropped sections", 1)[1]
    assert ".text.unused_function" in dropped
    assert "unreachable from the entry point" in dropped
    assert ".debug_info" in dropped and ".comment" in dropped
    assert "unused_function" not in text.split("Symbols", 1)[1].split("Dropped", 1)[0]


def test_map_prints_any_reason_the_model_carries(sample_obj):
    from tinyelf.linker.driver import run
    from tinyelf.tools.linkmap import format_map
    from tinyelf.linker.model import LinkOptions
    lk = run([sample_obj("hello.c")], LinkOptions())
    some = next(iter(lk.dropped)) if lk.dropped else None
    if some is None:
        pytest.skip("nothing dropped in this sample")
    lk.dropped[some] = "folded into .text.other (identical code)"
    assert "folded into .text.other (identical code)" in format_map(lk)


def test_map_and_sidecar_never_overwrite_inputs(greet, tmp_path):
    obj, exe, *_ = greet
    proc = run_tinyelf("pack", obj, "-o", tmp_path / "o", "--map", obj)
    assert proc.returncode == 1 and "is also an input" in proc.stderr
    assert not (tmp_path / "o").exists()
