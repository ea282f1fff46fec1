"""i386: ELF32 objects with REL relocations, the ELF32 layouts, build --arch i386.

Every layout on every i386 sample is run as root and as ``nobody``; the
sizes of the two C samples are held to the issue's limits (exit(42) <= 64
bytes, hello <= 96).  The machine kernel runs i386 binaries through IA32
emulation; without it the run tests skip with that reason (the link tests
still run).  About 6 s.
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, run_exe, run_tinyelf

SAMPLES = ROOT / "samples" / "i386"
I386_LAYOUTS = ("strict", "overlap76", "overlap64", "teensy")
#: sample -> (expected stdout, status, size limit with --layout auto)
EXPECT = {"exit42.c": (b"", 42, 64), "hello.c": (b"Hello, world!\n", 0, 96)}

needs_m32 = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def _ia32_problem(path) -> str | None:
    try:
        subprocess.run([str(path)], capture_output=True, timeout=10)
    except OSError as exc:
        if exc.errno == errno.ENOEXEC:
            return "this kernel runs no i386 binaries (IA32 emulation disabled)"
        raise
    return None


@pytest.fixture(scope="module")
def built(build_dir):
    """Every sample x layout, built once: {(sample, layout): path}."""
    out = {}
    for sample in EXPECT:
        for layout in ("auto",) + I386_LAYOUTS:
            exe = build_dir / f"i386-{sample}-{layout}"
            r = run_tinyelf("build", "--arch", "i386", SAMPLES / sample, "-o", exe,
                            "--layout", layout)
            assert r.returncode == 0, r.stderr
            out[(sample, layout)] = exe
    return out


@pytest.fixture(scope="module")
def can_run(built):
    why = _ia32_problem(built[("exit42.c", "strict")])
    if why:
        pytest.skip(why)


@needs_m32
@pytest.mark.parametrize("layout", ("auto",) + I386_LAYOUTS)
@pytest.mark.parametrize("sample", sorted(EXPECT))
@pytest.mark.parametrize("as_nobody", (False, True), ids=("root", "nobody"))
def test_every_layout_runs(built, can_run, sample, layout, as_nobody):
    out, status = run_exe(built[(sample, layout)], as_nobody=as_nobody)
    assert (out, status) == EXPECT[sample][:2]


@needs_m32
@pytest.mark.parametrize("sample", sorted(EXPECT))
def test_sizes_within_the_issue_limits(built, sample):
    size = os.path.getsize(built[(sample, "auto")])
    assert size <= EXPECT[sample][2]
    sizes = {l: os.path.getsize(built[(sample, l)]) for l in I386_LAYOUTS}
    assert size == min(sizes.values())
    assert sizes["strict"] > sizes["overlap76"] > sizes["overlap64"] > sizes["teensy"]


@needs_m32
def test_headers(built):
    """strict: an ELF32 header + 32-byte program header readelf reads cleanly;
    teensy: the program header at 4 and the file ending inside the ELF header."""
    data = built[("exit42.c", "strict")].read_bytes()
    assert data[4] == 1 and data[18] == 3 and int.from_bytes(data[42:44], "little") == 32
    r = subprocess.run(["readelf", "-lh", str(built[("exit42.c", "strict")])],
                       capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr, r.stderr
    assert "ELF32" in r.stdout and "Intel 80386" in r.stdout and "LOAD" in r.stdout
    teensy = built[("exit42.c", "teensy")].read_bytes()
    assert int.from_bytes(teensy[28:32], "little") == 4 and teensy[4:8] == b"\1\0\0\0"


def test_raiter_45_bytes(tmp_path):
    """Brian Raiter's exit(42) code (7 bytes) fits the teensy layout's hole:
    the file ends after e_phnum's low byte, 45 bytes, and runs."""
    src = tmp_path / "t.asm"
    src.write_text("section .text\nglobal _start\n_start:\n  mov bl, 42\n  xor eax, eax\n"
                   "  inc eax\n  int 0x80\n")
    exe = tmp_path / "t"
    r = run_tinyelf("pack", "--arch", "i386", src, "-o", exe)
    assert r.returncode == 0, r.stderr
    assert len(exe.read_bytes()) == 45
    why = _ia32_problem(exe)
    if why:
        pytest.skip(why)
    assert run_exe(exe) == (b"", 42) and run_exe(exe, as_nobody=True) == (b"", 42)


def test_teensy_refuses_writable_data(tmp_path):
    src = tmp_path / "w.c"
    src.write_text("int counter = 1;\nvoid _start(void) { counter++;\n"
                   "  __asm__ volatile (\"int $0x80\" : : \"a\"(1), \"b\"(counter)); "
                   "__builtin_unreachable(); }\n")
    exe = tmp_path / "w"
    r = run_tinyelf("build", "--arch", "i386", src, "-o", exe, "--layout", "teensy")
    assert r.returncode == 1 and not exe.exists()
    assert r.stderr.startswith("tinyelf: error: layout teensy maps its one segment read-only")
    r = run_tinyelf("build", "--arch", "i386", src, "-o", exe)
    assert r.returncode == 0, r.stderr
    why = _ia32_problem(exe)
    if why:
        pytest.skip(why)
    assert run_exe(exe, as_nobody=True) == (b"", 2)


def _obj(tmp_path, name, text, *flags):
    src = tmp_path / (name + ".c")
    src.write_text(text)
    out = tmp_path / (name + ".o")
    subprocess.run(["gcc", "-c", "-O2", "-ffreestanding", "-fno-pie", *flags, "-o", str(out),
                    str(src)], check=True)
    return out


def test_mixed_machines_is_one_error(tmp_path):
    a = _obj(tmp_path, "a", "void _start(void) { for (;;); }\n", "-m32")
    b = _obj(tmp_path, "b", "int f(void) { return 1; }\n")
    exe = tmp_path / "out"
    r = run_tinyelf("pack", a, b, "-o", exe)
    assert r.returncode == 1 and not exe.exists()
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyelf: error: ")
    assert str(b) in lines[0] and "x86-64" in lines[0] and "i386" in lines[0] and str(a) in lines[0]


def test_unknown_relocation_type_is_one_error(tmp_path):
    """An ELF32 object whose relocation type is outside the i386 table."""
    a = _obj(tmp_path, "a", "extern int x;\nint *p = &x;\nint x;\n"
             "void _start(void) { *p = 1; for (;;); }\n", "-m32")
    data = bytearray(a.read_bytes())
    from tinyelf.elf.structs import structs_for
    es = structs_for(1)
    eh = es.unpack_ehdr(data)
    for i in range(eh["e_shnum"]):
        sh = es.shdr.unpack_from(data, eh["e_shoff"] + i * es.shdr.size)
        if sh[1] == 9 and sh[5]:                      # SHT_REL
            data[sh[4] + 4] = 0x99                    # r_info's type byte
            break
    else:
        pytest.fail("no REL section")
    bad = tmp_path / "bad.o"
    bad.write_bytes(bytes(data))
    exe = tmp_path / "out"
    r = run_tinyelf("pack", bad, "-o", exe)
    assert r.returncode == 1 and not exe.exists()
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyelf: error: ")
    assert "unknown relocation type 153" in lines[0]


def test_implicit_addends_are_read_from_the_field(tmp_path):
    """REL keeps the addend in the field: the reader's tuple carries it."""
    a = _obj(tmp_path, "a", "static const char s[] = \"abcdef\";\n"
             "const char *p = s + 3;\n", "-m32")
    from tinyelf.elf.reader import read_object
    obj = read_object(str(a), a.read_bytes())
    assert obj.machine == 3
    data = next(s for s in obj.sections if s is not None and s.name == ".data")
    assert [(r[1], r[3]) for r in data.relocs] == [(1, 3)]      # R_386_32, s + 3


def test_i386_asm_source(tmp_path):
    """Intel-syntax .asm for i386 (keystone's 32-bit mode)."""
    src = tmp_path / "e.asm"
    src.write_text("section .text\nglobal _start\n_start:\n  push 7\n  pop ebx\n"
                   "  mov eax, msg\n  add bl, byte [eax]\n  xor eax, eax\n  inc eax\n  int 0x80\n"
                   "section .rodata\nmsg: db 3\n")
    exe = tmp_path / "e"
    r = run_tinyelf("pack", "--arch", "i386", src, "-o", exe)
    assert r.returncode == 0, r.stderr
    assert exe.read_bytes()[18] == 3
    why = _ia32_problem(exe)
    if why:
        pytest.skip(why)
    assert run_exe(exe, as_nobody=True) == (b"", 10)


def test_builtins_run(tmp_path):
    """tinyelf's i386 memcpy, memmove, memset, memcmp, bcmp and strlen."""
    a = _obj(tmp_path, "b", r'''
typedef unsigned int size_t;
void *memcpy(void *, const void *, size_t); void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t); int memcmp(const void *, const void *, size_t);
int bcmp(const void *, const void *, size_t); size_t strlen(const char *);
static char buf[16] = "abcdefgh";
int main(void) {
    int r = 0;
    memmove(buf + 2, buf, 6);                       /* ababcdef */
    r += memcmp(buf, "ababcdef", 8) == 0;
    memcpy(buf, "xy", 2);
    r += bcmp(buf, "xyab", 4) == 0;
    memset(buf + 8, 'z', 3);
    r += strlen(buf) == 11;
    r += memcmp("b", "a", 1) > 0 && memcmp("a", "b", 1) < 0;
    return r;
}''', "-m32", "-fno-builtin")
    exe = tmp_path / "b"
    r = run_tinyelf("pack", a, "-o", exe)
    assert r.returncode == 0, r.stderr
    why = _ia32_problem(exe)
    if why:
        pytest.skip(why)
    assert run_exe(exe, as_nobody=True) == (b"", 4)
