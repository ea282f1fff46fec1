"""Bad input: exit status 1, one `tinyelf: error:` line, no traceback, no output."""
from __future__ import annotations


import pytest

from asmutil import assemble
from conftest import run_tinyelf


def expect_error(tmp_path, *inputs, contains, extra=()):
    out = tmp_path / "out"
    proc = run_tinyelf("pack", *inputs, *extra, "-o", out)
    assert proc.returncode == 1, proc
    lines = proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr
    assert lines and all(l.startswith("tinyelf: error: ") for l in lines), proc.stderr
    for text in ([contains] if isinstance(contains, str) else contains):
        assert text in proc.stderr, proc.stderr
    assert not out.exists()
    assert not any(p.name.startswith(".tinyelf-") for p in tmp_path.iterdir())
    return lines


def test_not_an_elf(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello\n")
    assert len(expect_error(tmp_path, f, contains=["notes.txt", "not an ELF file"])) == 1


def test_empty_file(tmp_path):
    f = tmp_path / "empty.o"
    f.write_bytes(b"")
    assert len(expect_error(tmp_path, f, contains=["empty.o", "empty file"])) == 1


def test_missing_file(tmp_path):
    assert len(expect_error(tmp_path, tmp_path / "nope.o", contains="no such file")) == 1


@pytest.mark.parametrize("cut", [10, 64, 200, -30])
def test_truncated_object(tmp_path, sample_obj, cut):
    data = sample_obj("hello.c").read_bytes()
    f = tmp_path / "trunc.o"
    f.write_bytes(data[:cut])
    assert len(expect_error(tmp_path, f, contains="trunc.o")) == 1


def test_executable_as_input(tmp_path, build_dir, sample_obj):
    exe = build_dir / "an_exe"
    assert run_tinyelf("pack", sample_obj("hello.c"), "-o", exe).returncode == 0
    lines = expect_error(tmp_path, exe, contains=["executable", "not a relocatable object"])
    assert len(lines) == 1


def test_32bit_object_of_a_64bit_machine(tmp_path):
    """i386 objects link (tests/test_i386.py); an x32 object (ELFCLASS32 with
    e_machine x86-64) is refused, naming its class and machine."""
    obj = assemble(".globl _start\n_start: ret\n", tmp_path / "x32.o", extra=["--x32"])
    assert len(expect_error(tmp_path, obj, contains=["32-bit", "x86-64"])) == 1


def test_other_machine(tmp_path, sample_obj):
    data = bytearray(sample_obj("hello.c").read_bytes())
    data[18:20] = (21).to_bytes(2, "little")  # EM_PPC64: no tinyelf arch
    f = tmp_path / "ppc.o"
    f.write_bytes(bytes(data))
    assert len(expect_error(tmp_path, f, contains="PowerPC64")) == 1


def test_big_endian(tmp_path, sample_obj):
    data = bytearray(sample_obj("hello.c").read_bytes())
    data[5] = 2
    f = tmp_path / "be.o"
    f.write_bytes(bytes(data))
    assert len(expect_error(tmp_path, f, contains="big-endian")) == 1


def test_undefined_symbols_all_reported(tmp_path):
    obj = assemble("""
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    call first_missing
    call second_missing
    ret
""", tmp_path / "u.o")
    lines = expect_error(tmp_path, obj, contains=["undefined symbol: first_missing",
                                                  "undefined symbol: second_missing",
                                                  "u.o:.text._start+0x1"])
    assert len(lines) == 2


def test_unreferenced_undefined_is_fine(tmp_path, build_dir):
    obj = assemble("""
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    mov $60, %eax
    mov $4, %edi
    syscall
    .section .text.dead,"ax",@progbits
dead:
    call missing
""", tmp_path / "d.o")
    exe = build_dir / "dead_ok"
    assert run_tinyelf("pack", obj, "-o", exe).returncode == 0
    from conftest import run_exe
    assert run_exe(exe) == (b"", 4)


def test_duplicate_symbol(tmp_path):
    src = ".globl _start, dup\n.section .text.{n},\"ax\",@progbits\n{body}dup: ret\n"
    a = assemble(src.format(n="a", body="_start: call dup\n"), tmp_path / "a.o")
    b = assemble(".globl dup\n.section .text.b,\"ax\",@progbits\ndup: ret\n", tmp_path / "b.o")
    lines = expect_error(tmp_path, a, b, contains=["duplicate symbol: dup", "a.o:.text.a", "b.o:.text.b"])
    assert len(lines) == 1


def test_unsupported_relocation_type(tmp_path):
    obj = assemble("""
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    mov %fs:tlsvar@tpoff, %eax
    ret
    .section .tbss,"awT",@nobits
tlsvar: .zero 4
""", tmp_path / "tls.o")
    lines = expect_error(tmp_path, obj, contains=["thread-local storage"])
    assert len(lines) == 1


def test_unsupported_relocation_type_in_code(tmp_path):
    obj = assemble("""
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    .reloc ., R_X86_64_TPOFF32, _start
    .long 0
""", tmp_path / "tp.o")
    lines = expect_error(tmp_path, obj, contains=["unsupported relocation R_X86_64_TPOFF32",
                                                  "tp.o:.text._start+0x0"])
    assert len(lines) == 1


def test_relocation_offset_outside_section(tmp_path):
    obj = assemble("""
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    .reloc ., R_X86_64_32, _start
    .long 0
    ret
""", tmp_path / "off.o")
    data = bytearray(obj.read_bytes())
    # find the RELA entry (offset 0, type 10) and move its offset past the section
    import struct
    for i in range(0, len(data) - 24, 8):
        off, info, addend = struct.unpack_from("<QQq", data, i)
        if off == 0 and info & 0xFFFFFFFF == 10 and addend == 0:
            struct.pack_into("<Q", data, i, 0x1000)
            break
    else:
        pytest.fail("relocation not found")
    bad = tmp_path / "bad_off.o"
    bad.write_bytes(bytes(data))
    lines = expect_error(tmp_path, bad, contains=["outside its section"])
    assert len(lines) == 1


def test_missing_entry(tmp_path):
    # (a program that defines main gets a start stub: see test_stub.py)
    obj = assemble(".globl helper\n.text\nhelper: ret\n", tmp_path / "m.o")
    assert len(expect_error(tmp_path, obj, contains="entry symbol _start is not defined")) == 1


def test_constructors_rejected(tmp_path):
    obj = assemble("""
    .globl _start
    .text
_start: ret
init: ret
    .section .init_array,"aw",@init_array
    .quad init
""", tmp_path / "ctor.o")
    assert len(expect_error(tmp_path, obj, contains="constructors")) == 1


def test_output_over_input_refused(tmp_path, sample_obj):
    obj = tmp_path / "self.o"
    obj.write_bytes(sample_obj("hello.c").read_bytes())
    proc = run_tinyelf("pack", obj, "-o", obj)
    assert proc.returncode == 1
    assert "also an input" in proc.stderr
    assert obj.read_bytes() == sample_obj("hello.c").read_bytes()


def test_bad_command_line(tmp_path):
    proc = run_tinyelf("pack", "--bogus")
    assert proc.returncode == 1
    assert proc.stderr.startswith("tinyelf: error: ")
    assert len(proc.stderr.splitlines()) == 1


def test_control_characters_in_names_stay_on_one_line(tmp_path):
    """Names from a hostile object may hold line breaks: the message escapes them
    (found by the fuzzer: a bare 'tinyelf: error: ' line, the rest on the next)."""
    obj = assemble("""
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    call missing_QQQ
""", tmp_path / "ctl.o")
    data = obj.read_bytes().replace(b"missing_QQQ", b"missing_\x0b\n\x1c")
    bad = tmp_path / "ctl2.o"
    bad.write_bytes(data)
    lines = expect_error(tmp_path, bad, contains="undefined symbol: missing_\\x0b \\x1c")
    assert len(lines) == 1


def test_device_refused(tmp_path):
    """/dev/zero would be read forever: devices are refused before reading."""
    for dev in ("/dev/zero", "/dev/null"):
        assert len(expect_error(tmp_path, dev, contains=[dev, "is a device"])) == 1


def test_input_too_large_for_memory(tmp_path):
    """An input larger than the memory tinyelf may use: one error line, not
    an internal error (a sparse 600 MB file under a 500 MB address-space limit)."""
    import resource
    import subprocess
    import sys
    big = tmp_path / "big.o"
    with open(big, "wb") as f:
        f.truncate(600 << 20)
    out = tmp_path / "out"

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (500 << 20, 500 << 20))
    proc = subprocess.run([sys.executable, "-m", "tinyelf", "pack", str(big), "-o", str(out)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=limit)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == f"tinyelf: error: {big}: too large to read into memory " \
                          "(tinyelf reads each input whole)\n"
    assert not out.exists()
