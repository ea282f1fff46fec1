"""Finding relocations.  Data items are evaluated directly: an address plus
a constant becomes an absolute relocation of the item's width.  An
instruction is assembled three times: as is, with its symbolic operand
moved, and with the instruction moved.  The bytes that change locate the
field; capstone's view of the instruction (the syntax object) confirms its
position and width; whether it moved with the instruction tells a
PC-relative field from an absolute one.  The syntax object names the
relocation type of the field."""
from __future__ import annotations

from .expr import AsmError, ExprParser, Lin

#: how far a symbolic operand or an instruction is moved to see its field change
SHIFT = 0x10000


class Relocator:
    def __init__(self, source, values, encoder):
        self.source = source
        self.values = values
        self.encoder = encoder
        self.syntax = source.syntax

    def err(self, item, msg):
        return self.source.err(item.line, msg)

    def _rtype(self, item, kind, size, signed=False):
        rtype = self.syntax.reloc_type(kind, size, signed)
        if rtype is None:
            raise self.err(item, f"no relocation type for a {size}-byte "
                           f"{'PC-relative' if kind == 'pc' else 'absolute'} field in {item.text!r}")
        return rtype

    def single_term(self, lin, item):
        if len(lin.terms) != 1 or next(iter(lin.terms.values())) != 1:
            raise self.err(item, "the expression is not an address plus a constant, so it "
                           "cannot be relocated (differences of labels in different sections, "
                           "or of external symbols, are not supported)")
        return next(iter(lin.terms.items()))

    @staticmethod
    def symbol(key):
        """The relocation's symbol: an external's name, or a section (labels are offsets in it)."""
        return key[1] if isinstance(key, tuple) else key

    # -- data ------------------------------------------------------------------
    def data(self, sec, item) -> bytes:
        try:
            lin = ExprParser(item.exprs[0], self.values.lookup(sec, item.offset, {}, item.scope)).parse()
        except AsmError as exc:
            raise self.err(item, str(exc)) from None
        size = item.size
        value = lin.const
        if lin.terms:
            key, _coeff = self.single_term(lin, item)
            sec.relocs.append((item.offset, self._rtype(item, "abs", size), self.symbol(key), lin.const))
            value = 0
        lo, hi = -(1 << (size * 8 - 1)), (1 << (size * 8)) - 1
        if not lo <= value <= hi:
            raise self.err(item, f"value {value} does not fit in {size} byte(s)")
        return (value & ((1 << (size * 8)) - 1)).to_bytes(size, "little")

    # -- instructions ------------------------------------------------------------
    def _target(self, sec, lin, item):
        """The section or external the symbolic operand refers to (None: the
        terms cancel out within the instruction's own section)."""
        terms = dict(lin.terms)
        own = terms.pop(sec.name, 0)
        if terms:
            key = None if own != 0 else self.single_term(Lin(0, terms), item)[0]
        else:
            key = sec.name if own == 1 else None
        if key is None and own != 0:
            raise self.err(item, "the expression is not an address plus a constant, so it "
                           "cannot be relocated")
        return key

    def insn(self, sec, item) -> bytes:
        enc = self.encoder
        code, text, lin, ph, addr, consts = enc.insn(sec, item, {})
        enc.check_immediates(code, addr, item, consts)
        if lin is None:
            return code
        key = self._target(sec, lin, item)
        # the instruction and its target move together: unchanged bytes
        # mean a PC-relative reference inside the section, final already
        if key == sec.name and enc.ks(text, addr + SHIFT, ph + SHIFT, item.line) == code:
            return code
        moved = enc.ks(text, addr, ph + SHIFT, item.line)
        shifted = enc.ks(text, addr + SHIFT, ph, item.line)
        if len(moved) != len(code) or len(shifted) != len(code):
            raise self.err(item, f"the encoding of {item.text!r} depends on where its target "
                           "is; write the size explicitly (e.g. 'near')")
        changed = [i for i in range(len(code)) if code[i] != moved[i]]
        if not changed:
            return code      # the symbol did not reach the bytes (e.g. a constant difference)
        f_off, f_size = self._field(code, addr, changed, item)
        reloc = self._reloc(sec, item, key, code, moved, shifted, addr, f_off, f_size)
        if reloc is None:
            return code      # PC-relative within the section: final already
        sec.relocs.append(reloc)
        fixed = bytearray(code)
        fixed[f_off:f_off + f_size] = bytes(f_size)
        return bytes(fixed)

    def _reloc(self, sec, item, key, code, moved, shifted, addr, f_off, f_size):
        """(offset, type, symbol, addend) for the field, or None when it needs none."""
        bits = f_size * 8
        mask = (1 << bits) - 1
        f0, f1, f2 = (int.from_bytes(b[f_off:f_off + f_size], "little") for b in (code, moved, shifted))
        if (f1 - f0) & mask != SHIFT & mask:
            raise self.err(item, f"cannot find the address field of {item.text!r}")
        pcrel = (f0 - f2) & mask == SHIFT & mask
        if not pcrel and f2 != f0:
            raise self.err(item, f"cannot find the address field of {item.text!r}")
        if pcrel and key == sec.name:
            return None
        sval = self.values.base_of(key, {})
        signed_f0 = f0 - (1 << bits) if f0 >> (bits - 1) else f0
        if pcrel:
            addend = signed_f0 - sval + addr + f_off            # S + A - P was written
            rtype = self._rtype(item, "pc", f_size)
        else:
            signed = f_size != 8 and self.syntax.sign_extended(code, addr, f_off)
            addend = (signed_f0 if signed else f0) - sval
            rtype = self._rtype(item, "abs", f_size, signed)
        return (item.offset + f_off, rtype, self.symbol(key), addend)

    def _field(self, code, addr, changed, item):
        """(offset, size) of the operand field covering the changed bytes,
        as capstone decodes the instruction."""
        fields = self.syntax.operand_fields(code, addr)
        if fields is None:
            raise self.err(item, f"capstone does not decode {item.text!r} as one instruction")
        lo, hi = changed[0], changed[-1] + 1
        for off, size in fields:
            if size and off <= lo and hi <= off + size:
                return off, size
        raise self.err(item, f"capstone finds no operand field at bytes {lo}..{hi} of {item.text!r}")
