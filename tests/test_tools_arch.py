"""The tools around a link on i386, aarch64 and riscv64 (issue 13 item 5,
issue 17 item 4): ``inspect`` (text, --json, --html) and ``dis`` decode the
headers and explain the code with the machine's syscall convention,
``size`` and ``--report`` account for every byte, ``--map`` and
``--debug-sidecar`` name the addresses gdb stops at, and ``--emit-ld-script``
makes GNU ld (the machine's) place every section where tinyelf did.

Every program is run: i386 natively, aarch64 and riscv64 under qemu-user
(with ``--layout strict --no-trim-zeros``, which its loader accepts), as
root and as nobody; the sidecars are tried in gdb (i386) and gdb-multiarch
against ``qemu-<arch> -g PORT``.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess

import pytest

from conftest import SAMPLES, nobody_prefix, run_tinyelf
from tinyelf.tools import toolchain
from tinyelf.tools.inspect import load_symbols

ARCHES = ("i386", "aarch64", "riscv64")
QEMU = {"aarch64": "qemu-aarch64", "riscv64": "qemu-riscv64"}
QEMU_OK = ("--layout", "strict", "--no-trim-zeros")
#: the instruction that enters the kernel, as capstone writes it
SYSCALL = {"i386": "int 0x80", "aarch64": "svc #0", "riscv64": "ecall"}

#: one freestanding program for the three machines: data, bss, read-only
#: data, a function to break on, calls to the strlen builtin, two syscalls
PROGRAM = r"""
#if defined(__i386__)
static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile ("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}
#define SYS_WRITE 4
#define SYS_EXIT 1
#elif defined(__aarch64__)
static long sys3(long n, long a, long b, long c)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile ("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}
#define SYS_WRITE 64
#define SYS_EXIT 93
#elif defined(__riscv)
static long sys3(long n, long a, long b, long c)
{
    register long a7 __asm__("a7") = n;
    register long a0 __asm__("a0") = a;
    register long a1 __asm__("a1") = b;
    register long a2 __asm__("a2") = c;
    __asm__ volatile ("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2) : "memory");
    return a0;
}
#define SYS_WRITE 64
#define SYS_EXIT 93
#endif

unsigned long strlen(const char *);
static const char *const words[] = {"tiny ", "elf ", "tools\n"};
int counter = 3;
char buf[64];

__attribute__((noinline)) int twice(int x)
{
    return x * 2 + 1;
}

void _start(void)
{
    int n = 0;
    for (int i = 0; i < counter; i++) {
        const char *w = words[i];
        unsigned long len = strlen(w);
        for (unsigned long k = 0; k < len; k++)
            buf[n++] = w[k];
    }
    sys3(SYS_WRITE, 1, (long)buf, n);
    sys3(SYS_EXIT, twice(n), 0, 0);
    for (;;)
        ;
}
"""
OUT, STATUS = b"tiny elf tools\n", 31          # twice(15)


def _need(*tools):
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run tests/deps/install.sh")


def _run(arch, exe, as_nobody=False):
    """(stdout, status) of a produced program on its machine."""
    cmd = ([QEMU[arch]] if arch in QEMU else []) + [str(exe)]
    if as_nobody:
        cmd = nobody_prefix() + cmd
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=20)
    except OSError as exc:
        if exc.errno == errno.ENOEXEC and arch == "i386":
            pytest.skip("this kernel runs no i386 binaries (IA32 emulation disabled)")
        raise
    return r.stdout, r.returncode


def _cc(arch):
    return [toolchain.cross_tool("gcc", arch), *toolchain.ARCH_FLAGS.get(arch, {}).get(".c", ())]


@pytest.fixture(scope="module")
def objs(build_dir):
    """arch -> {"prog": object of PROGRAM (-g), "hello": samples/<arch>/hello.c's}."""
    out = {}
    src = build_dir / "tools_prog.c"
    src.write_text(PROGRAM)
    for arch in ARCHES:
        _need(_cc(arch)[0], *(QEMU.get(arch, ()) and [QEMU[arch]]))
        d = build_dir / f"tools-{arch}"
        d.mkdir(exist_ok=True)
        cc = _cc(arch)
        out[arch] = {
            "prog": toolchain.compile_c(src, d / "prog.o", ["-g", *cc[1:]], cc=cc[0]),
            "hello": toolchain.compile_c(SAMPLES / arch / "hello.c", d / "hello.o", cc[1:],
                                         cc=cc[0]),
            "dir": d,
        }
    return out


def _pack(objs, arch, name, *args, what="prog"):
    exe = objs[arch]["dir"] / name
    r = run_tinyelf("pack", objs[arch][what], "-o", exe, *args)
    assert r.returncode == 0, r.stderr
    return exe, r


def _runs_right(arch, exe, expect=(OUT, STATUS)):
    for nobody in (False, True):
        assert _run(arch, exe, as_nobody=nobody) == expect, ("nobody" if nobody else "root")


# ---- inspect and dis --------------------------------------------------------------------

@pytest.mark.parametrize("arch", ARCHES)
def test_inspect_explains_the_syscalls(objs, arch):
    """hello: the write is shown with its arguments (the string by name from
    the map, by address without it), the exit ends the traced code; the
    headers decode in the machine's class."""
    hello = (b"Hello, world!\n", 0)
    exe, _r = _pack(objs, arch, "hello-strict", *QEMU_OK, "--map",
                    objs[arch]["dir"] / "hello-strict.map", what="hello")
    _runs_right(arch, exe, hello)
    small, _r = _pack(objs, arch, "hello-auto", "--map", objs[arch]["dir"] / "hello-auto.map",
                      what="hello")
    if arch == "i386":                 # the smallest layout runs natively: inspect it
        _runs_right(arch, small, hello)
        exe = small
    else:                              # overlapped headers: qemu-user refuses them (tests/vm runs them)
        rep = json.loads(run_tinyelf("inspect", small, "--json").stdout)
        msg = next(a for a, _s, n in load_symbols(f"{small}.map")[0] if n == "msg")
        assert [i["syscall"] for i in rep["disassembly"] if i.get("syscall")] == \
            [f"write(1, {msg:#x} <msg>, 14)", "exit(0)"]
        assert any(i["is_entry"] for i in rep["disassembly"])
    msg = next(a for a, _s, n in load_symbols(f"{exe}.map")[0] if n == "msg")
    text = run_tinyelf("inspect", exe, "--color", "never")
    assert text.returncode == 0, text.stderr
    kind = {"i386": "32-bit i386", "aarch64": "64-bit AArch64", "riscv64": "64-bit RISC-V"}[arch]
    assert kind in text.stdout.splitlines()[0]
    assert f"{SYSCALL[arch]}    ; write(1, {msg:#x} <msg>, 14)" in text.stdout
    assert "; exit(0)" in text.stdout and ".byte" not in text.stdout
    assert "<$x" not in text.stdout               # mapping symbols name nothing
    rep = json.loads(run_tinyelf("inspect", exe, "--json").stdout)
    notes = [i["syscall"] for i in rep["disassembly"] if i.get("syscall")]
    assert notes == [f"write(1, {msg:#x} <msg>, 14)", "exit(0)"]
    ident = {r["field"]: r for r in rep["elf_header"]}
    assert ident["EI_CLASS"]["kernel_ignores"] == (arch != "riscv64")
    assert len(rep["elf_header"]) == 20 and rep["bits"] == (32 if arch == "i386" else 64)
    page = objs[arch]["dir"] / f"{arch}.html"
    assert run_tinyelf("inspect", exe, "--html", page).returncode == 0
    assert f"; write(1, {msg:#x} &lt;msg&gt;, 14)" in page.read_text()
    # no map, no sections: the code is traced from the entry point
    os.unlink(f"{exe}.map")
    traced = json.loads(run_tinyelf("inspect", exe, "--json").stdout)
    assert traced["origins_basis"].startswith("code traced")
    notes = [i["syscall"] for i in traced["disassembly"] if i.get("syscall")]
    assert notes == [f"write(1, {msg:#x}, 14)", "exit(0)"]


@pytest.mark.parametrize("arch", ARCHES)
def test_dis_names_functions_and_calls(objs, arch):
    exe, _r = _pack(objs, arch, "prog-dis", *QEMU_OK, "--map", objs[arch]["dir"] / "prog-dis.map")
    _runs_right(arch, exe)
    r = run_tinyelf("dis", exe, "--color", "never")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for name in ("_start", "twice", "strlen"):
        assert any(l.endswith(f"<{name}>:") for l in lines), name
    assert any("<twice>" in l and not l.endswith(":") for l in lines)   # the call
    assert ".byte" not in r.stdout and "<$" not in r.stdout
    assert any("; exit(" in l for l in lines)
    assert sum(SYSCALL[arch] in l for l in lines) == 2


# ---- size, --report, --map ---------------------------------------------------------------

@pytest.mark.parametrize("layout", ("strict", "auto"))
@pytest.mark.parametrize("arch", ARCHES)
def test_report_adds_up(objs, arch, layout):
    args = QEMU_OK if layout == "strict" else ()
    exe, r = _pack(objs, arch, f"prog-{layout}", *args, "--json", "--layout", layout)
    if layout == "strict" or arch == "i386":
        _runs_right(arch, exe)
    rep = json.loads(r.stdout)
    size = exe.stat().st_size
    b, h = rep["bytes"], rep["header"]
    assert rep["file"] == size == sum(b.values())
    assert b["header"] + h["content_in_header"] == min(h["end"], size)
    assert h["ehdr"] == (52 if arch == "i386" else 64)
    # each class's count is the bytes its sections occupy in the file, once
    # (the trimmed tail is memory only; split code would be counted by pieces)
    assert not any(s["place"] == "split" for s in rep["sections"])
    by_class = {cls: 0 for cls in ("code", "rodata", "data", "got")}
    for s in rep["sections"]:
        if s["place"] in ("tail", "hole"):
            by_class[s["class"]] += max(0, min(s["offset"] + s["size"], size) - s["offset"])
    assert by_class == {cls: b[cls] for cls in by_class}
    assert rep["bss_memory"] == 64            # char buf[64]
    sized = json.loads(run_tinyelf("size", exe, "--json").stdout)
    assert sized["file"] == size and sized["entry"] == rep["entry"]
    assert [(s["vaddr"], s["filesz"], s["memsz"]) for s in sized["segments"]] == \
        [(s["vaddr"], s["filesz"], s["memsz"]) for s in rep["segments"]]
    # tinyelf links strlen from its builtins, GNU ld finds none: no number, the reason
    assert rep["gnu_ld"] is None and "strlen" in rep["gnu_ld_missing"]


@pytest.mark.parametrize("arch", ARCHES)
def test_report_compares_with_the_machines_gnu_ld(objs, arch):
    """hello.c: GNU ld's number is that of the machine's GNU ld (i386's
    emulation, the cross ld), whose output runs."""
    exe, r = _pack(objs, arch, "hello-rep", *QEMU_OK, "--json", what="hello")
    _runs_right(arch, exe, (b"Hello, world!\n", 0))
    rep = json.loads(r.stdout)
    ld_out = objs[arch]["dir"] / "hello.ld-out"
    assert rep["gnu_ld"] == toolchain.ld_baseline([objs[arch]["hello"]], ld_out,
                                                  ["-e", "_start"], arch=arch)
    assert rep["gnu_ld"] > rep["file"]
    _runs_right(arch, ld_out, (b"Hello, world!\n", 0))


@pytest.mark.parametrize("arch", ARCHES)
def test_map_and_sidecar_agree_with_gdb(objs, arch):
    """--map and --debug-sidecar give the same address to each function, and
    gdb stops there, in ``twice`` with its argument read from the DWARF."""
    d = objs[arch]["dir"]
    exe, _r = _pack(objs, arch, "prog-gdb", *QEMU_OK, "--map", d / "prog-gdb.map",
                    "--debug-sidecar", d / "prog-gdb.debug")
    _runs_right(arch, exe)
    from_map = {n: a for a, _s, n in load_symbols(d / "prog-gdb.map")[0]}
    from_sidecar = {n: a for a, _s, n in load_symbols(d / "prog-gdb.debug")[0]}
    for name in ("_start", "twice", "strlen", "counter", "buf"):
        assert from_map[name] == from_sidecar[name], name
    out = _gdb(arch, exe, d / "prog-gdb.debug")
    assert f"Breakpoint 1 at {from_map['twice']:#x}" in out, out
    assert "Breakpoint 1, twice (x=" in out and "$1 = 15" in out, out
    assert f"exited with code {STATUS:03o}" in out, out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gdb(arch, exe, sidecar) -> str:
    cmds = ["-ex", "break twice", "-ex", "continue" if arch in QEMU else "run",
            "-ex", "print x", "-ex", "continue"]
    if arch not in QEMU:
        _need("gdb")
        r = subprocess.run(["gdb", "-nx", "-batch", "-ex", f"file {exe}",
                            "-ex", f"symbol-file {sidecar}", *cmds],
                           capture_output=True, text=True, timeout=60)
        return r.stdout + r.stderr
    _need("gdb-multiarch", QEMU[arch])
    port = _free_port()
    qemu = subprocess.Popen([QEMU[arch], "-g", str(port), str(exe)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        r = subprocess.run(["gdb-multiarch", "-nx", "-batch", "-ex", f"file {sidecar}",
                            "-ex", f"target remote 127.0.0.1:{port}", *cmds],
                           capture_output=True, text=True, timeout=60)
    finally:
        try:
            qemu.wait(timeout=10)
        except subprocess.TimeoutExpired:
            qemu.kill()
            qemu.wait()
    return r.stdout + r.stderr


# ---- --emit-ld-script ---------------------------------------------------------------------

@pytest.mark.parametrize("arch", ARCHES)
def test_ld_script_links_the_same_program(objs, arch):
    """The emitted script, given to the machine's GNU ld with the command it
    names, makes a program that behaves as tinyelf's and has its entry."""
    d = objs[arch]["dir"]
    script = d / "prog.ld"
    exe, _r = _pack(objs, arch, "prog-ld", *QEMU_OK, "--emit-ld-script", script)
    _runs_right(arch, exe)
    text = script.read_text()
    cmd = next(l.strip() for l in text.splitlines() if "-T THIS_FILE" in l).split()
    ld = toolchain.ld_command(arch)
    assert cmd[:len(ld)] == [os.path.basename(ld[0]), *ld[1:]], cmd
    gnu = d / "prog-ld.gnu"
    args = [a for a in cmd[len(ld):] if a not in ("-o", "OUT", "INPUTS...", "THIS_FILE", "-T")]
    subprocess.run([*ld, *args, "-T", str(script), "-o", str(gnu), str(objs[arch]["prog"])],
                   check=True, capture_output=True)
    _runs_right(arch, gnu)
    mine, theirs = _memory(exe.read_bytes()), _memory(gnu.read_bytes())
    assert theirs["entry"] == mine["entry"]
    # the same loaded bytes from the end of tinyelf's headers on
    lo, hi = mine["content"], mine["end"]
    assert theirs["image"][lo - theirs["base"]:hi - theirs["base"]] == \
        mine["image"][lo - mine["base"]:hi - mine["base"]]


def _memory(data: bytes) -> dict:
    """The PT_LOADs of an ELF32/ELF64 file as one memory image (bss zeroed)."""
    from tinyelf.elf.structs import structs_for
    es = structs_for(data[4])
    e = es.unpack_ehdr(data)
    loads = [p for p in (es.unpack_phdr(data, e["e_phoff"] + i * es.phdr.size)
                         for i in range(e["e_phnum"])) if p["p_type"] == 1]
    base = min(p["p_vaddr"] for p in loads)
    end = max(p["p_vaddr"] + p["p_memsz"] for p in loads)
    image = bytearray(end - base)
    for p in loads:
        chunk = data[p["p_offset"]:p["p_offset"] + p["p_filesz"]]
        image[p["p_vaddr"] - base:p["p_vaddr"] - base + len(chunk)] = chunk
    headers = e["e_phoff"] + e["e_phnum"] * es.phdr.size
    return {"entry": e["e_entry"], "base": base, "end": end, "image": bytes(image),
            "content": base + max(headers, es.ehdr.size)}


# ---- the trace hints on their own ------------------------------------------------------------

#: machine code -> the note at its syscall, from the registers the kernel sets at the entry
TRACED = {
    # Raiter's exit(42): mov bl, 42; xor eax, eax; inc eax; int 0x80 (ebx starts at 0)
    "i386": ("b32a31c040cd80", "exit(42)"),
    # movz x0, #0x1234; movk x0, #0x5678, lsl #16; mov x8, #93; svc #0
    "aarch64": ("804682d200cfaaf2a80b80d2010000d4", "exit(0x56781234)"),
    # lui a0, 0x12345; addiw a0, a0, 0x678; addi a7, zero, 93; ecall
    "riscv64": ("375534121b0585679308d00573000000", "exit(0x12345678)"),
}


@pytest.mark.parametrize("arch", ARCHES)
def test_trace_hints_follow_constants(arch):
    from tinyelf import arch as archmod
    a = archmod.get(arch)
    hints = a.trace_hints()
    code, expect = TRACED[arch]
    state, notes = hints.new_state(at_entry=True), []
    for ins in archmod.new_capstone(a).disasm(bytes.fromhex(code), 0x1000):
        note = hints.syscall_note(state, ins)
        if note:
            notes.append(note)
        assert not hints.exits(state, ins) or note == expect
    assert notes == [expect]
