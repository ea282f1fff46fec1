"""x86 Intel syntax for tinyelf's assembler (tinyelf.asm): registers,
instruction prefixes, memory operands with RIP-relative addressing, the nop
that pads code, capstone's view of an instruction's fields and the
relocation types of those fields.

One :class:`X86Syntax` per machine (``arch.asm_syntax``): x86-64 makes its
own below; i386 would make one with its register set, ``rip=False`` and its
R_386_* names.
"""
from __future__ import annotations

import re

from ...asm.expr import AsmError, ExprParser, Lin, hex_signed, signed_terms, split_top
from ...asm.syntax import PLACEHOLDER, AsmSyntax, reloc_types_by_name
from .. import capstone_for


def _registers() -> frozenset:
    regs = set()
    for r in ("ax", "bx", "cx", "dx", "si", "di", "sp", "bp"):
        regs.update({"r" + r, "e" + r, r})
    regs.update({"al", "bl", "cl", "dl", "ah", "bh", "ch", "dh", "sil", "dil", "spl", "bpl",
                 "rip", "eip", "cs", "ds", "es", "fs", "gs", "ss"})
    for i in range(8, 16):
        regs.update({f"r{i}", f"r{i}d", f"r{i}w", f"r{i}b"})
    for i in range(32):
        regs.update({f"xmm{i}", f"ymm{i}", f"zmm{i}"})
    for i in range(8):
        regs.update({f"st{i}", f"mm{i}", f"k{i}", f"cr{i}", f"dr{i}"})
    return frozenset(regs)


#: every x86-64 register name (i386's are a subset)
REGS_64 = _registers()
SIZE_WORDS = frozenset({"byte", "word", "dword", "qword", "tword", "oword", "xmmword", "ymmword",
                        "zmmword"})
KEYWORDS = SIZE_WORDS | {"ptr", "rel", "abs", "short", "near", "far", "offset", "st"}
PREFIXES = frozenset({"rep", "repe", "repz", "repne", "repnz", "lock", "notrack", "bnd", "xacquire",
                      "xrelease", "data16", "addr32"})
#: words before an immediate or branch target; keystone picks the jump size itself
_OPERAND_WORDS = frozenset({"short", "near", "far", "offset", "ptr"}) | SIZE_WORDS
_DROPPED_WORDS = frozenset({"short", "near", "offset"})
_NASM_SIZE = re.compile(r"\b(byte|word|dword|qword|tword|oword|xmmword|ymmword)\s+(?!ptr\b)(?=\[|[a-z]+:\[)",
                        re.I)
_RIP_PH = "__tinyelf_rip"
X86_OP_IMM = 2                   # capstone.x86.X86_OP_IMM (capstone stays unimported until used)

_INSN_LINE = re.compile(r"^\s*(?:[\w.$]+:\s*)?(mov|movzx|movsx|lea|call|jmp|j[a-z]{1,3}|syscall|xor|"
                        r"push|pop|ret|add|sub|cmp|test|and|or|inc|dec|int|nop|hlt|db|dd|dq|dw)\b",
                        re.M | re.I)

#: relocation names for the fields tinyelf's assembler writes, x86-64
RELOC_NAMES_64 = {("abs", 8): "R_X86_64_64", ("abs", 4): "R_X86_64_32",
                  ("abs-signed", 4): "R_X86_64_32S", ("abs", 2): "R_X86_64_16",
                  ("abs", 1): "R_X86_64_8", ("pc", 8): "R_X86_64_PC64",
                  ("pc", 4): "R_X86_64_PC32", ("pc", 2): "R_X86_64_PC16", ("pc", 1): "R_X86_64_PC8"}


class X86Syntax(AsmSyntax):
    code_fill = 0x90             # nop
    ignored_directives = frozenset({"bits", "[bits", "use64", ".intel_syntax", ".att_syntax",
                                    ".code64", "cpu"})
    insn_line = _INSN_LINE

    def __init__(self, arch, regs=REGS_64, reloc_names=RELOC_NAMES_64, rip=True):
        self.arch = arch
        self.regs = regs
        self.rip = rip
        self.reloc_types = reloc_types_by_name(arch.relocs, reloc_names)

    def ignores(self, head: str) -> bool:
        return head in self.ignored_directives or (head.startswith("[") and "bits" in head)

    def is_reserved(self, name: str) -> bool:
        low = name.lower()
        return low in self.regs or low in KEYWORDS

    # -- operands -------------------------------------------------------------
    def rewrite(self, text, look, default_rel):
        words = text.split(None, 1)
        mnem = words[0]
        while mnem.lower() in PREFIXES and len(words) > 1:    # rep movsb, lock xadd ...
            more = words[1].split(None, 1)
            mnem = f"{mnem} {more[0]}"
            words = [mnem] + more[1:]
        ops = split_top(words[1]) if len(words) > 1 else []
        symbolic, out_ops, consts = None, [], []
        for op in ops:
            new, lin = self._operand(op, look, default_rel, consts)
            if lin is not None:
                if symbolic is not None:
                    raise AsmError("more than one operand refers to a symbol address; "
                                   "tinyelf's assembler relocates one per instruction")
                symbolic = lin
            out_ops.append(new)
        return mnem + (" " + ", ".join(out_ops) if out_ops else ""), symbolic, consts

    def _operand(self, op, look, default_rel, consts):
        op = _NASM_SIZE.sub(r"\1 ptr ", op)          # NASM sizes without 'ptr'
        m = re.match(r"^(.*?)\[(.*)\]\s*$", op, re.S)
        if m:
            return self._memory(op, m.group(1), m.group(2), look, default_rel)
        # immediate / branch target / register
        words = op.split()
        keep = []
        while words and words[0].lower() in _OPERAND_WORDS:
            w = words.pop(0)
            if w.lower() not in _DROPPED_WORDS:
                keep.append(w)
        rest = " ".join(words)
        if not rest or rest.lower() in self.regs or re.match(r"^[a-z]+:\s*$", rest, re.I):
            return op, None
        lin = ExprParser(rest, look).parse()
        if lin.terms:
            return " ".join(keep + [PLACEHOLDER]), lin
        consts.append(lin.const)
        return " ".join(keep + [hex_signed(lin.const)]), None

    def _memory(self, op, prefix, inner, look, default_rel):
        rel = None
        if re.match(r"\s*rel\b", inner, re.I):
            rel, inner = True, re.sub(r"^\s*rel\b", "", inner, flags=re.I)
        elif re.match(r"\s*abs\b", inner, re.I):
            rel, inner = False, re.sub(r"^\s*abs\b", "", inner, flags=re.I)
        regs, expr_parts = self._split_address(op, inner)
        if self.rip and any(r.lower() == "rip" for r in regs):
            rel = True
            regs = [r for r in regs if r.lower() != "rip"]
        if rel is None:      # NASM's 'default rel' applies without registers only
            rel = self.rip and default_rel and not regs
        lin = ExprParser(" ".join(expr_parts) or "0", look).parse() if expr_parts else Lin(0)
        symbolic = lin if lin.terms else None
        disp = (_RIP_PH if rel else PLACEHOLDER) if lin.terms else hex_signed(lin.const)
        if rel and regs:
            raise AsmError(f"rip-relative operand {op!r} cannot use other registers")
        parts = (["rip"] if rel else []) + regs
        if expr_parts or rel or not parts:
            parts.append(disp)
        return f"{prefix}[{' + '.join(parts).replace('+ -', '- ')}]", symbolic

    def _split_address(self, op, inner):
        """Registers and the expression (signed terms) of ``[inner]``."""
        regs, expr_parts = [], []
        for sign, term in signed_terms(inner):
            words = re.findall(r"[A-Za-z_.$@?][\w.$@?]*", term)
            if any(w.lower() in self.regs for w in words):
                if sign == "-":
                    raise AsmError(f"cannot subtract a register in {op!r}")
                regs.append(term.strip())
            else:
                expr_parts.append(sign + "(" + term + ")")
        return regs, expr_parts

    def place(self, text, address, value, size_of):
        """A RIP-relative displacement counts from the instruction's end: its
        length comes from assembling it once with a zero displacement."""
        if _RIP_PH in text:
            size = size_of(text.replace(_RIP_PH, "0x0"))
            return text.replace(_RIP_PH, hex_signed(value - (address + size)))
        return super().place(text, address, value, size_of)

    # -- fields, as capstone decodes the instruction ------------------------------
    def _one(self, code, address):
        _capstone, md = capstone_for(self.arch)
        insns = list(md.disasm(code, address))
        return insns[0] if len(insns) == 1 else None

    def operand_fields(self, code, address):
        ins = self._one(code, address)
        if ins is None or ins.size != len(code):
            return None
        return [(ins.disp_offset, ins.disp_size), (ins.imm_offset, ins.imm_size)]

    def immediates(self, code, address):
        ins = self._one(code, address)
        if ins is None:
            return None
        return [(o.imm, o.size) for o in ins.operands if o.type == X86_OP_IMM]

    def sign_extended(self, code, address, offset):
        _capstone, md = capstone_for(self.arch)
        ins = next(md.disasm(code, address))
        if ins.disp_size and ins.disp_offset == offset:
            return True          # 32-bit displacements are sign-extended
        return any(o.size == 8 for o in ins.operands if o.type == X86_OP_IMM)
