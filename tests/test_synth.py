"""tinyelf's own objects: keystone-assembled code linked like compiler output."""
from __future__ import annotations

from conftest import run_exe


def test_keystone_decimal_and_hex_literals_mean_what_they_say():
    from tinyelf.asm import assemble
    # 60 must be decimal 60 (0x3c) whatever keystone's radix state is
    assert assemble("mov eax, 60") == bytes.fromhex("b83c000000")
    assert assemble("mov eax, 0x60") == bytes.fromhex("b860000000")
    assert assemble("mov eax, 60", resolver=lambda n: None) == bytes.fromhex("b83c000000")
    # ';' separates statements in keystone's Intel mode: both numbers are decimal
    assert assemble("mov eax, 1; mov edi, 60") == bytes.fromhex("b801000000bf3c000000")
    assert assemble('.ascii "60"') == b"60"


def test_synthesized_object_links_and_runs(build_dir):
    import tinyelf
    from tinyelf.asm import assemble
    from tinyelf.elf.defs import STB_GLOBAL, STT_FUNC
    from tinyelf.elf.synth import RODATA, TEXT, make_object
    code = assemble("lea rsi, [rip + 0]\nmov eax, 1\nmov edi, 1\nmov edx, 3\nsyscall\n"
                    "mov eax, 60\nmov edi, 5\nsyscall")
    obj = make_object("<test>", [
        {"name": ".text._start", "flags": TEXT, "data": code,
         "relocs": [(3, 2, ".rodata.msg", -4)]},          # R_X86_64_PC32 to the string
        {"name": ".rodata.msg", "flags": RODATA, "data": b"ok\n"},
    ], [("_start", ".text._start", 0, STB_GLOBAL, STT_FUNC, len(code))])
    exe = build_dir / "synth"
    exe.write_bytes(tinyelf.link([obj]))
    exe.chmod(0o755)
    assert run_exe(exe) == (b"ok\n", 5)
