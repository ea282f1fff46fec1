"""Relocation field writers, unit by unit, for every registered architecture.

For each type in an arch's relocation table: the value its psABI formula
gives (checked in a real link of a synthesized object: S, A, P, GOT, G and Z
read back from the link model), the range check at exactly its bounds and
one past them (in a link too, with the error's wording), and the generic
field hooks (``Arch.write_field``, ``Arch.field_problem``,
``Arch.implicit_addend``) for 1/2/4/8-byte fields in both byte orders.

A new architecture joins these tests by being registered in
``tinyelf.arch``; a type whose formula is the arch's own (``>= F_ARCH``)
is skipped with that reason (its arch's own tests cover ``arch_value``).
"""
from __future__ import annotations

import pytest

from tinyelf import arch as archmod
from tinyelf.arch import (Arch, C_BITFIELD, C_NONE, C_SIGNED, C_UNSIGNED, F_ABS, F_ARCH, F_GOT,
                          F_GOTOFF, F_GOTPC, F_GOTPCREL, F_NONE, F_PC, F_SIZE, RelocType)
from tinyelf.elf.defs import STB_GLOBAL, STT_FUNC, STT_OBJECT
from tinyelf.elf.synth import DATA, TEXT, make_object
from tinyelf.errors import RelocationError
from tinyelf.linker.driver import run
from tinyelf.linker.model import LinkOptions

ARCHS = archmod.names()
#: (arch, rtype) for every relocation type of every registered arch
#: (the types only a link places, Arch.internal_relocs, cannot be in an object:
#: tests/test_arch_risc.py checks their fields, tests/test_riscv_relax.py runs them)
TYPES = [pytest.param(a, t, id=f"{a}-{archmod.get(a).relocs[t].name}")
         for a in ARCHS for t in sorted(archmod.get(a).relocs)
         if t not in archmod.get(a).internal_relocs]

FIELD_AT = 8            # offset of the relocated field in .data.f
NEAR = 2                # value of the symbol "near" in the same section
NEAR_SIZE = 7
ABS_VALUE = 0x12        # value of the absolute symbol "abs"
PATTERN = bytes(range(0x40, 0x60))     # .data.f's bytes: no zeros, so nothing is trimmed


def _link(arch_name: str, rtype: int, addend: int, target: str):
    """Link one object whose .data.f holds one relocation of ``rtype`` at
    FIELD_AT against ``target`` ("near": a symbol 6 bytes before the field,
    in the same section; "abs": an absolute symbol)."""
    obj = make_object("t.o", [
        {"name": ".text._start", "flags": TEXT, "data": b"\0" * 4},
        {"name": ".data.f", "flags": DATA, "data": PATTERN,
         "relocs": [(FIELD_AT, rtype, target, addend)]},
    ], [("_start", ".text._start", 0, STB_GLOBAL, STT_FUNC, 4),
        ("near", ".data.f", NEAR, STB_GLOBAL, STT_OBJECT, NEAR_SIZE),
        ("abs", None, ABS_VALUE, STB_GLOBAL, STT_OBJECT, 0)])
    opts = LinkOptions(arch=arch_name, layout="strict", gc_sections=False, lief=False,
                       merge_strings=False, fold_functions=False, split_code=False)
    lk = run([obj], opts)
    sec = next(s for s in lk.kept if s.name == ".data.f")
    return lk, sec


def _target_for(arch: Arch, spec: RelocType) -> str:
    """An absolute target for absolute fields too narrow for an address."""
    rng = arch.range_of(spec)
    if spec.formula == F_ABS and rng is not None and rng[1] < arch.default_base + 0x10000:
        return "abs"
    return "near"


def _expected(lk, sec, spec: RelocType, target: str, addend: int) -> int:
    """The psABI formula's value, from the link model's addresses."""
    sym = lk.globals[target]
    S = sec.address_of(NEAR) if target == "near" else ABS_VALUE
    P = sec.address_of(FIELD_AT)
    A = addend
    GOT = lk.got.addr if lk.got is not None else None
    ptr = lk.arch.ptr_size
    G = lk.got_symbols.index(sym) * ptr if sym in lk.got_symbols else None
    return {F_ABS: lambda: S + A, F_PC: lambda: S + A - P,
            F_GOTPCREL: lambda: G + GOT + A - P, F_GOTPC: lambda: GOT + A - P,
            F_GOTOFF: lambda: S + A - GOT, F_GOT: lambda: G + A,
            F_SIZE: lambda: NEAR_SIZE + A}[spec.formula]()


def _probe(arch_name: str, target: str):
    """The same object linked with the arch's widest plain absolute field
    (64-bit; i386: 32-bit), for the addresses S and P before the type under
    test is tried."""
    a = archmod.get(arch_name)
    _size, widest = max((s.size, t) for t, s in a.relocs.items()
                        if s.formula == F_ABS and s.field is None)
    return _link(arch_name, widest, 0, target)


def _field_bytes(lk, sec, size: int) -> bytes:
    foff = sec.file_offset_of(FIELD_AT)
    return lk.output[foff:foff + size]


def _skip_arch_formula(spec: RelocType, arch: Arch) -> None:
    if spec.formula >= F_ARCH:
        pytest.skip(f"{arch.name}: {spec.name}'s formula is the arch's own (Arch.arch_value), "
                    "covered by that arch's tests")


@pytest.mark.parametrize("arch_name, rtype", TYPES)
def test_formula_value_lands_in_the_field(arch_name, rtype):
    """S + A - P and friends, for every type: the output's field holds the
    formula's value computed from the link's own addresses, written as the
    arch writes a field (and, for whole fields, as plain bytes)."""
    arch = archmod.get(arch_name)
    spec = arch.relocs[rtype]
    _skip_arch_formula(spec, arch)
    addend = 5          # not -4: a GOTPCRELX with addend -4 may be relaxed
    target = _target_for(arch, spec)
    align = arch.field_align(spec)
    if align > 1:   # a scaled instruction field: pick the addend that makes the value aligned
        addend -= _expected(*_probe(arch_name, target), spec, target, addend) % align
    lk, sec = _link(arch_name, rtype, addend, target)
    if spec.formula == F_NONE:
        assert _field_bytes(lk, sec, len(PATTERN) - FIELD_AT) == PATTERN[FIELD_AT:]
        return
    value = _expected(lk, sec, spec, target, addend)
    assert arch.field_problem(spec, value) is None, (spec.name, hex(value))
    want = bytearray(PATTERN)
    arch.write_field(want, FIELD_AT, spec, value)
    foff = sec.file_offset_of(0)
    assert lk.output[foff:foff + len(PATTERN)] == bytes(want), spec.name
    if spec.field is None:
        got = int.from_bytes(_field_bytes(lk, sec, spec.size), arch.byteorder)
        assert got == value & ((1 << 8 * spec.size) - 1), (spec.name, hex(got), hex(value))


def _bounded(arch_name):
    a = archmod.get(arch_name)
    return [(t, s) for t, s in sorted(a.relocs.items())
            if s.formula in (F_ABS, F_PC) and a.range_of(s) is not None
            and t not in a.internal_relocs]


BOUNDED = [pytest.param(a, t, id=f"{a}-{s.name}") for a in ARCHS for t, s in _bounded(a)]


@pytest.mark.parametrize("arch_name, rtype", BOUNDED)
def test_range_bounds_in_a_link(arch_name, rtype):
    """The addend is chosen so that the value is exactly the field's lowest
    and highest value (linked, stored), then one past each (refused with a
    RelocationError naming type, file, section, offset and symbol)."""
    arch = archmod.get(arch_name)
    spec = arch.relocs[rtype]
    lo, hi = arch.range_of(spec)
    target = _target_for(arch, spec)
    base_value = _expected(*_probe(arch_name, target), spec, target, 0)   # S - P or S
    for value in (lo, hi):
        lk, sec = _link(arch_name, rtype, value - base_value, target)
        assert _expected(lk, sec, spec, target, value - base_value) == value
        if spec.field is None:
            got = int.from_bytes(_field_bytes(lk, sec, spec.size), arch.byteorder,
                                 signed=value < 0)
            assert got == value, (spec.name, value, got)
    for value in (lo - 1, hi + 1):
        with pytest.raises(RelocationError) as exc:
            _link(arch_name, rtype, value - base_value, target)
        (msg,) = exc.value.messages
        assert msg.startswith(f"relocation {spec.name} out of range at t.o:.data.f+{FIELD_AT:#x} "
                              f"against {target}: "), msg
        assert arch.field_problem(spec, value) in msg, msg


@pytest.mark.parametrize("arch_name, rtype", TYPES)
def test_field_problem_at_the_bounds(arch_name, rtype):
    """Every type: exactly min and max fit, one past either does not, and the
    reason says how many bits and which signedness; no range: anything fits."""
    arch = archmod.get(arch_name)
    spec = arch.relocs[rtype]
    rng = arch.range_of(spec)
    if rng is None:
        bits = max(8 * spec.size, 8)
        for v in (0, -1, (1 << bits) - 1, -(1 << (bits - 1))):
            assert arch.field_problem(spec, v) is None, (spec.name, v)
        return
    lo, hi = rng
    assert lo < hi
    assert arch.field_problem(spec, lo) is None and arch.field_problem(spec, hi) is None
    if spec.field is None:
        assert arch.field_problem(spec, lo - 1) == (
            f"value {lo - 1:#x} does not fit in {spec.size * 8} bits "
            f"({'signed' if lo < 0 else 'unsigned'})")
        assert arch.field_problem(spec, hi + 1) == (
            f"value {hi + 1:#x} does not fit in {spec.size * 8} bits "
            f"({'signed' if lo < 0 else 'unsigned'})")
    else:   # instruction bit-field: the arch words it, but it must refuse
        assert arch.field_problem(spec, lo - 1) and arch.field_problem(spec, hi + 1)


X86_RANGES = {
    # check -> size -> (lo, hi): the psABI's (and GNU ld's) overflow rules
    C_SIGNED: {1: (-0x80, 0x7F), 2: (-0x8000, 0x7FFF), 4: (-0x80000000, 0x7FFFFFFF)},
    C_UNSIGNED: {4: (0, 0xFFFFFFFF)},
    C_BITFIELD: {1: (-0x80, 0xFF), 2: (-0x8000, 0xFFFF)},
}


def test_x86_64_ranges_are_the_psabi_ones():
    """The numbers, not derived from the code under test: R_X86_64_32 is
    unsigned, 32S/PC32 signed, 8/16 GNU ld's "bitfield" (either), 64-bit
    fields unchecked."""
    a = archmod.get("x86_64")
    by_name = {s.name: s for s in a.relocs.values()}
    assert a.range_of(by_name["R_X86_64_32"]) == (0, 0xFFFFFFFF)
    assert a.range_of(by_name["R_X86_64_32S"]) == (-0x80000000, 0x7FFFFFFF)
    assert a.range_of(by_name["R_X86_64_PC32"]) == (-0x80000000, 0x7FFFFFFF)
    assert a.range_of(by_name["R_X86_64_PC8"]) == (-0x80, 0x7F)
    assert a.range_of(by_name["R_X86_64_8"]) == (-0x80, 0xFF)
    assert a.range_of(by_name["R_X86_64_16"]) == (-0x8000, 0xFFFF)
    for name in ("R_X86_64_64", "R_X86_64_PC64", "R_X86_64_GOTOFF64", "R_X86_64_SIZE64"):
        assert a.range_of(by_name[name]) is None
    for spec in a.relocs.values():
        if spec.check != C_NONE:
            assert a.range_of(spec) == X86_RANGES[spec.check][spec.size], spec.name


# --- the generic hooks, on the base class and on every arch ------------------------

class _Big(Arch):
    name = "big-endian test arch"
    byteorder = "big"
    relocs = {n: RelocType(f"T{n}", n, F_ABS, C_NONE) for n in (1, 2, 4, 8)}


class _Little(Arch):
    name = "little-endian test arch"
    relocs = _Big.relocs


@pytest.mark.parametrize("size", [1, 2, 4, 8])
@pytest.mark.parametrize("cls, order", [(_Little, "little"), (_Big, "big")])
def test_generic_write_field_and_implicit_addend(cls, order, size):
    a = cls()
    spec = a.relocs[size]
    bits = 8 * size
    for value, raw in ((-1, b"\xff" * size),
                       (-(1 << (bits - 1)), (1 << (bits - 1)).to_bytes(size, order)),
                       ((1 << (bits - 1)) - 1, ((1 << (bits - 1)) - 1).to_bytes(size, order)),
                       (0x0102030405060708 & ((1 << bits) - 1),
                        (0x0102030405060708 & ((1 << bits) - 1)).to_bytes(size, order))):
        buf = bytearray(b"\xaa" * (size + 4))
        a.write_field(buf, 2, spec, value)
        assert buf == b"\xaa\xaa" + raw + b"\xaa\xaa", (value, buf.hex())
        # the implicit addend reads it back signed, in the same byte order
        signed = int.from_bytes(raw, order, signed=True)
        assert a.implicit_addend(buf, 2, size) == signed
    # a value with bits above the field: stored modulo 2**bits (checked earlier)
    buf = bytearray(size)
    a.write_field(buf, 0, spec, (1 << bits) + 1)
    assert int.from_bytes(buf, order) == 1
    assert a.implicit_addend(b"\x00" * 8, 0, 99) == 0      # unknown type: no addend


def test_generic_field_problem_wording():
    class Ranged(_Little):
        def range_of(self, spec):
            return (-4, 3) if spec.size == 1 else (0, 9)
    a = Ranged()
    assert a.field_problem(a.relocs[1], 3) is None and a.field_problem(a.relocs[1], -4) is None
    assert a.field_problem(a.relocs[1], 4) == "value 0x4 does not fit in 8 bits (signed)"
    assert a.field_problem(a.relocs[1], -5) == "value -0x5 does not fit in 8 bits (signed)"
    assert a.field_problem(a.relocs[2], 10) == "value 0xa does not fit in 16 bits (unsigned)"
    assert _Little().field_problem(_Little.relocs[8], 1 << 70) is None   # no range: no check


@pytest.mark.parametrize("size", [1, 2, 4, 8])
@pytest.mark.parametrize("arch_name", ARCHS)
def test_arch_whole_fields_round_trip(arch_name, size):
    """Every registered arch: a whole-field type of each size writes only its
    own bytes, in the arch's byte order, and the implicit addend reads the
    value back signed."""
    arch = archmod.get(arch_name)
    rtype = next((t for t, s in sorted(arch.relocs.items())
                  if s.size == size and s.field is None and s.formula != F_NONE), None)
    if rtype is None:
        pytest.skip(f"{arch_name} declares no whole {size}-byte relocation field")
    spec = arch.relocs[rtype]
    bits = 8 * size
    for value in (-1, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, 0x5A):
        buf = bytearray(b"\xcc" * (size + 6))
        arch.write_field(buf, 3, spec, value)
        assert buf[:3] == b"\xcc" * 3 and buf[3 + size:] == b"\xcc" * 3
        assert buf[3:3 + size] == (value & ((1 << bits) - 1)).to_bytes(size, arch.byteorder)
        assert arch.implicit_addend(buf, 3, rtype) == value
