"""Code split across header holes on aarch64 and riscv64.

* The splitter's decoders (tinyelf/arch/aarch64/insn.py, riscv64/insn.py)
  against capstone: on random instruction words of the classes that matter
  (branches, literals, adr/adrp, auipc, returns, indirect jumps) and on every
  code section the cross corpus compiles to: same boundaries, same relative
  targets, terminators only where capstone reads a jump/return/trap.
* The jumps the layout writes (``b``, ``c.j``, ``jal x0``) read back by
  capstone, and refused beyond their range.
* Split programs run on the booted kernels (tests/vm/harness.py), as root
  and as nobody: the samples (their code in three or four pieces), riscv
  code without RVC (4-byte jumps, 4-byte alignment) and without relaxation
  (local branches the assembler resolved), and the cross corpus's programs at
  a few flag sets linked with the default layout, each against GNU ld's
  output under qemu-user.  The builds must really split: the test counts the
  pieces.

About 70 s on 2 busy cores beside tests/test_cross.py (whose compiled corpus
it shares): links, two boots per machine and a third riscv one.
"""
from __future__ import annotations

import concurrent.futures
import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tinyelf import arch as archmod
from tinyelf.arch.aarch64 import insn as a64
from tinyelf.arch.riscv64 import insn as rv

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "corpus"))
sys.path.insert(0, str(HERE))

from vm.harness import available, run_in_vm  # noqa: E402

capstone = pytest.importorskip("capstone")


def _cs(arch):
    md = {"aarch64": lambda: capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM),
          "riscv64": lambda: capstone.Cs(capstone.CS_ARCH_RISCV,
                                         capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)}[arch]()
    md.detail = True
    return md


# ---- aarch64 decoder ---------------------------------------------------------------------

A64_RELATIVE = {"b": ("b",), "bl": ("bl",), "b.cond": ("b.", "bc."), "cbz": ("cbz", "cbnz"),
                "tbz": ("tbz", "tbnz"), "adr": ("adr",), "ldr": ("ldr", "ldrsw", "prfm")}
#: (mask, value) of the classes worth sampling densely
A64_CLASSES = [(0xFC000000, 0x14000000), (0xFC000000, 0x94000000), (0xFF000000, 0x54000000),
               (0x7E000000, 0x34000000), (0x7E000000, 0x36000000), (0x9F000000, 0x10000000),
               (0x9F000000, 0x90000000), (0x3B000000, 0x18000000), (0xFE000000, 0xD6000000),
               (0xFFFF0000, 0x00000000), (0xFFE0001F, 0xD4200000), (0, 0)]


def _a64_check(md, w, at):
    mine = a64.decode_one(w, at)
    cs = next(md.disasm(struct.pack("<I", w), at), None)
    if cs is None:
        return                                   # undefined: nothing to compare
    m = cs.mnemonic
    imms = [o.imm for o in cs.operands if o.type == capstone.arm64.ARM64_OP_IMM]
    mems = [o for o in cs.operands if o.type == capstone.arm64.ARM64_OP_MEM]
    if mine is None:
        assert m.startswith(("br", "eret", "drps")), (hex(w), m)
        return
    name, targets = mine
    if name in A64_RELATIVE:
        assert m.startswith(A64_RELATIVE[name]) and not mems, (hex(w), m, name)
        assert targets == [imms[-1]], (hex(w), m, cs.op_str, targets)
    elif name == "adrp":
        assert m == "adrp" and targets == [None], (hex(w), m)
    elif name in a64.TERMINATORS:
        assert m in ("ret", "retaa", "retab", "udf", "brk"), (hex(w), m, name)
    else:
        relative = m in ("b", "bl", "cbz", "cbnz", "tbz", "tbnz", "adr", "adrp") or \
            m.startswith(("b.", "bc.")) or (m in ("ldr", "ldrsw", "prfm") and imms and not mems)
        assert not relative, (hex(w), m, cs.op_str, name)
        assert m not in ("ret", "br") and (m == "blr") == (name == "blr"), (hex(w), m, name)


def test_aarch64_decoder_matches_capstone_on_random_words():
    md = _cs("aarch64")
    rnd = random.Random(17)
    for _ in range(6000):
        mask, value = rnd.choice(A64_CLASSES)
        w = (rnd.getrandbits(32) & ~mask) | value
        _a64_check(md, w, rnd.randrange(0, 1 << 20, 4))


# ---- riscv64 decoder ---------------------------------------------------------------------

RV_RELATIVE = ("j", "jal", "c.j", "c.beqz", "c.bnez", "beq", "bne", "blt", "bge", "bltu", "bgeu",
               "beqz", "bnez", "blez", "bgez", "bltz", "bgtz", "bgt", "ble", "bgtu", "bleu")
RV_TERMINATING = ("j", "c.j", "jr", "ret", "c.jr", "unimp", "c.unimp", "ebreak", "c.ebreak")


def _rv_check_one(cs, start, end, name, targets):
    assert cs.size == end - start, (cs.mnemonic, cs.op_str, start, end)
    m = cs.mnemonic
    imms = [o.imm for o in cs.operands if o.type == capstone.riscv.RISCV_OP_IMM]
    if m in RV_RELATIVE:
        assert targets == [start + imms[-1]], (m, cs.op_str, targets)
    elif m == "auipc":
        assert targets == [None]
    else:
        assert targets == [], (m, cs.op_str, targets)
    assert (name in rv.TERMINATORS) == (m in RV_TERMINATING or
                                         (m == "jalr" and cs.op_str.startswith("zero"))), (m, name)


def _rv_compare(md, data):
    """Compare our reading of ``data`` with capstone's up to the first
    instruction capstone cannot decode; returns how many were compared."""
    mine = rv.decode(data)
    if mine is None:
        return 0
    n = 0
    for cs, (start, end, name, targets) in zip(md.disasm(data, 0), mine):
        assert cs.address == start
        _rv_check_one(cs, start, end, name, targets)
        n += 1
    return n


def test_riscv64_decoder_matches_capstone_on_random_words():
    md = _cs("riscv64")
    rnd = random.Random(17)
    ops32 = (0x6F, 0x63, 0x17, 0x67, 0x13, 0x33, 0x03, 0x23, 0x73)
    compared = 0
    for _ in range(6000):
        if rnd.random() < 0.5:
            h = rnd.getrandbits(16)
            if h & 3 == 3:
                h &= ~1
            data = struct.pack("<H", h)
        else:
            w = (rnd.getrandbits(32) & ~0x7F) | rnd.choice(ops32)
            if w & 0x7F == 0x73 and rnd.random() < 0.3:
                w = rnd.choice((0xC0001073, 0x00100073, 0x00000073))
            data = struct.pack("<I", w)
        compared += _rv_compare(md, data)
    assert compared > 4000


# ---- the decoders on compiled code ---------------------------------------------------------

def _code_sections(path):
    from tinyelf.elf.reader import read_object
    obj = read_object(str(path), Path(path).read_bytes())
    return [bytes(s.data) for s in obj.sections
            if s is not None and s.flags & 4 and not s.is_nobits and s.size]


def test_decoders_match_capstone_on_the_cross_corpus(cross_built):
    mds = {a: _cs(a) for a in ("aarch64", "riscv64")}
    counted = {"aarch64": 0, "riscv64": 0}
    for name, got in cross_built.items():
        if got[0] == "build":
            continue
        arch = name.split(".")[0]
        for obj in got[0]:
            for data in _code_sections(obj):
                if arch == "riscv64":
                    counted[arch] += _rv_compare(mds[arch], data)
                    continue
                for at in range(0, len(data) - 3, 4):
                    _a64_check(mds[arch], int.from_bytes(data[at:at + 4], "little"), at)
                    counted[arch] += 1
    assert counted["aarch64"] > 5000 and counted["riscv64"] > 5000, counted


# ---- jumps -------------------------------------------------------------------------------------

@pytest.mark.parametrize("machine,size,reach", [("aarch64", 4, 1 << 27), ("riscv64", 2, 1 << 11),
                                                  ("riscv64", 4, 1 << 20)])
def test_split_jumps_read_back(machine, size, reach):
    arch = archmod.get(machine)
    md = _cs(machine)
    at = 0x10000
    for rel in (-reach, -reach + 2 * size, -size, 0, size, 0x40, reach - size):
        rel -= rel % (4 if machine == "aarch64" else 2)
        raw = arch.encode_jump(at, at + rel, size)
        assert raw is not None and len(raw) == size, rel
        cs = next(md.disasm(raw, at))
        assert cs.size == size and cs.mnemonic in ("b", "j", "c.j"), (cs.mnemonic, rel)
        imm = [o.imm for o in cs.operands][-1]
        assert (imm if machine == "aarch64" else at + imm) == at + rel
        assert arch.split_jump_target(lambda a, n: raw[a - at:a - at + n] if a - at + n <= len(raw)
                                      else None, at) == at + rel
    assert arch.encode_jump(at, at + reach, size) is None
    assert arch.encode_jump(at, at - reach - 4, size) is None
    assert arch.encode_jump(at, at + 1, size) is None


# ---- split programs on the booted kernels -----------------------------------------------------

def _build(src, out, machine, *extra):
    r = subprocess.run([sys.executable, "-m", "tinyelf", "build", str(src), "-o", str(out),
                        "--arch", machine, "--report", "--json", *extra],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _pieces(report) -> int:
    """How many jumps continue split code in the header holes."""
    return sum(1 for h in report["holes"] for c in h["contents"]
               if c["what"] == "jmp to the next piece")


#: machine -> [(name, source, tinyelf build options, argv, stdout or None, status, least jumps)]
SAMPLES = {
    "aarch64": [("hello", "samples/aarch64/hello.c", ("--layout", "overlap104"), [],
                 b"Hello, world!\n", 0, 3),
                ("main", "samples/aarch64/main.c", ("--layout", "overlap104"), ["x", "yz"],
                 None, 43, 3),
                ("hello103", "samples/aarch64/hello.c", ("--layout", "overlap103"), [],
                 b"Hello, world!\n", 0, 1)],
    "riscv64": [("hello", "samples/riscv64/hello.c", ("--layout", "overlap104"), [],
                 b"Hello, world!\n", 0, 3),
                ("main", "samples/riscv64/main.c", ("--layout", "overlap104"), ["x", "yz"],
                 None, 43, 3),
                ("exit", "samples/riscv64/exit.c", (), [], b"", 42, 1),
                # no RVC: 4-byte jal x0 between pieces, pieces 4-aligned
                ("hello-rv64g", "samples/riscv64/hello.c",
                 ("--layout", "overlap104", "--", "-march=rv64g"), [], b"Hello, world!\n", 0, 1),
                # local branches resolved by the assembler, no relocation
                ("main-norelax", "samples/riscv64/main.c",
                 ("--layout", "overlap104", "--", "-mno-relax"), ["x", "yz"], None, 43, 2),
                # opt-in, above 2**48: the guest's qemu CPU has Sv57
                ("exit82", "samples/riscv64/exit.c", ("--layout", "high82"), [], b"", 42, 1),
                ("hello82", "samples/riscv64/hello.c", ("--layout", "high82"), [],
                 b"Hello, world!\n", 0, 1)],
}


@pytest.mark.parametrize("machine", list(SAMPLES))
def test_split_samples_run_on_the_booted_kernel(machine, tmp_path):
    reason = available(machine)
    if reason:
        pytest.fail(reason, pytrace=False)
    programs, expect = [], {}
    samples = SAMPLES[machine]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:      # compilers, tinyelf: processes
        reports = list(pool.map(lambda s: _build(ROOT / s[1], tmp_path / s[0], machine, *s[2]),
                                samples))
    for (name, _src, _opts, argv, stdout, status, least), report in zip(samples, reports):
        assert _pieces(report) >= least, (name, report["holes"])
        programs.append((name, tmp_path / name, argv, b""))
        expect[name] = (stdout, status)
    res = run_in_vm(machine, programs)
    for name, (stdout, status) in expect.items():
        for who in ("root", "nobody"):
            out, got = res[name][who]
            assert got == status, (name, who, out)
            if stdout is not None:
                assert out == stdout, (name, who)
            else:
                assert out.endswith(b"\nx\nyz\n"), (name, who, out)


#: flag sets of the cross corpus (tests/corpus/cross.py) linked with the
#: default layout and run on the booted kernels
BOOTED_FLAGSETS = {"aarch64": ("Os-pic", "O0"),
                   "riscv64": ("Os-pic", "O2-medany-norelax")}


@pytest.mark.parametrize("machine", list(BOOTED_FLAGSETS))
def test_cross_corpus_with_holes_runs_on_the_booted_kernel(machine, cross_built, build_dir):
    reason = available(machine)
    if reason:
        pytest.fail(reason, pytrace=False)
    import cross
    chosen = []
    for cv in cross.variants(machine):
        set_name = cv.variant.name.rsplit(".", 1)[1]
        if set_name not in BOOTED_FLAGSETS[machine] or cv.variant.reject or cv.variant.env:
            continue
        objs, ars, ld_result = cross_built[cv.name]
        if ld_result[0] == "ld failed" or b"envc=" in ld_result[0]:
            continue            # the guest's /init has an environment; qemu-user ran with none
        chosen.append((cv, objs, ars, ld_result, build_dir / "cross" / cv.name / "holes.out"))

    def link(job):
        cv, objs, ars, _ld, out = job
        return subprocess.run([sys.executable, "-m", "tinyelf", "pack", *objs, *ars, "-o",
                               str(out), "--report", "--json"], capture_output=True, text=True)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        links = list(pool.map(link, chosen))
    programs, expect, split = [], {}, 0
    for (cv, _objs, _ars, ld_result, out), r in zip(chosen, links):
        assert r.returncode == 0, (cv.name, r.stderr)
        split += _pieces(json.loads(r.stdout)) > 0
        programs.append((cv.name, out, list(cv.variant.argv), cv.variant.stdin or b""))
        expect[cv.name] = ld_result
    assert len(programs) >= 20 and split >= 10, (len(programs), split)
    res = run_in_vm(machine, programs)
    for name, (ld_out, ld_rc) in expect.items():
        for who in ("root", "nobody"):
            assert res[name][who] == (ld_out, ld_rc), (name, who)


def test_high82_needs_sv57(tmp_path):
    """high82 loads above 2**48: with 4-level (Sv48) or 3-level (Sv39) page
    tables, as on today's boards, the kernel cannot map it and the process
    dies with SIGSEGV; the guest is booted with ``no5lvl`` to show it (the
    sample runs in test_split_samples_run_on_the_booted_kernel, under Sv57)."""
    reason = available("riscv64")
    if reason:
        pytest.fail(reason, pytrace=False)
    exe = tmp_path / "exit82"
    report = _build(ROOT / "samples/riscv64/exit.c", exe, "riscv64", "--layout", "high82")
    assert report["file"] == 82 and exe.stat().st_size == 82
    plain = tmp_path / "exit"
    _build(ROOT / "samples/riscv64/exit.c", plain, "riscv64")
    res = run_in_vm("riscv64", [("exit82", exe, [], b""), ("exit", plain, [], b"")],
                    append="no5lvl")
    for who in ("root", "nobody"):
        assert res["exit82"][who] == (b"", 139), res["exit82"]
        assert res["exit"][who] == (b"", 42)


# ---- what the splitter may move --------------------------------------------------------

def test_pinned_instructions_need_their_relocation():
    """adrp/auipc compute from their own address: without a relocation to re-fix
    them the section is not split (holes.code_info gives None) and no loop is
    read into them (hot.loops)."""
    from tinyelf.linker import holes, hot

    class Sec:
        is_nobits = False
        relocs = []

        def __init__(self, data):
            self.data, self.size = data, len(data)

    for machine, code, field in (("aarch64", "00000090c0035fd6", (0, 4)),      # adrp x0; ret
                                 ("riscv64", "170500008280", (0, 4))):         # auipc a0, 0; ret
        arch = archmod.get(machine)
        data = bytes.fromhex(code)
        insns = arch.decode_insns(data)
        assert holes.code_info(data, insns, []) is None, machine
        info = holes.code_info(data, insns, [field])
        assert info is not None and info.intra == [], machine
        assert hot.loops(Sec(data), arch) == [], machine


def test_riscv_call_pair_is_one_unit():
    """``call`` = auipc ra + jalr ra under one 8-byte R_RISCV_CALL field: the
    splitter may cut before or after the pair, never between."""
    from tinyelf.linker import holes
    arch = archmod.get("riscv64")
    # li a0, 1; auipc ra, 0; jalr ra, 0(ra); ret
    data = bytes.fromhex("0545" "97000000" "e7800000" "8280")
    info = holes.code_info(data, arch.decode_insns(data), [(2, 10)])
    assert info.bounds == [0, 2, 10, 12]
    assert holes.code_info(data, arch.decode_insns(data), [(4, 12)]) is None   # cuts the ret
    aarch = archmod.get("aarch64")
    # br x0 (a jump table's): aarch64 refuses the split, riscv's jr is a terminator
    assert aarch.decode_insns(bytes.fromhex("00001fd6")) is None
    assert arch.decode_insns(bytes.fromhex("8287"))[0][2] == "c.jr"
