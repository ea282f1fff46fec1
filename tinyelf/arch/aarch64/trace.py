"""What ``tinyelf inspect`` needs to follow and explain AArch64 code
(capstone's operand text): ``svc #0`` with the number in x8 and arguments in
x0..x5, Linux's generic syscall numbers, branches ``b``/``b.cond``/``bl``/
``cbz``/``tbz`` with absolute targets, and constants built by ``mov``/
``movk``/``adrp``+``add``/``adr``.  Generic code asks ``Arch.trace_hints()``."""
from __future__ import annotations

import re

from ..trace import GENERIC_SYSCALLS, RegisterTrace, immediate

_TARGET = re.compile(r"#(0x[0-9a-f]+)$")
#: instructions whose first operand is not written
_NO_DEST = frozenset({"cmp", "cmn", "tst", "ccmp", "ccmn", "fcmp", "nop", "svc", "ret", "br",
                      "blr", "b", "bl", "cbz", "cbnz", "tbz", "tbnz", "prfm", "dmb", "dsb",
                      "isb", "msr", "hint", "brk", "hlt", "yield", "bti", "paciasp",
                      "autiasp"})


def operands(op_str: str) -> list:
    """Operands split at the commas outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in op_str:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def reg(name: str) -> str:
    """x and w views of one register are one register (a w write zero-extends)."""
    if re.fullmatch(r"w\d+", name):
        return "x" + name[1:]
    return {"wzr": "xzr", "wsp": "sp"}.get(name, name)


class AArch64Trace(RegisterTrace):
    stops = frozenset({"ret", "br", "brk", "hlt", "udf", "eret"})
    syscall_insn = ("svc",)
    number_reg = "x8"
    arg_regs = ("x0", "x1", "x2", "x3", "x4", "x5")
    return_reg = "x0"
    syscalls = GENERIC_SYSCALLS
    exit_syscalls = (93, 94)
    #: start_thread_common() clears every register before the first instruction
    initial = {f"x{i}": 0 for i in range(31)}
    #: AAPCS64: x19..x28, the frame pointer and sp survive a call
    preserved = tuple(f"x{i}" for i in range(19, 30)) + ("sp",)

    def branch_target(self, ins) -> int | None:
        m = ins.mnemonic
        if m in ("b", "bl", "cbz", "cbnz", "tbz", "tbnz") or m.startswith("b."):
            t = _TARGET.search(ins.op_str)
            return int(t.group(1), 16) if t else None
        return None

    def ends_path(self, ins, target) -> bool:
        return ins.mnemonic in self.stops or ins.mnemonic == "b"

    def is_call(self, ins) -> bool:
        return ins.mnemonic in ("bl", "blr")

    def pc_relative(self, ins) -> int | None:
        """adr's address, and the literal an ``ldr xN, #addr`` loads."""
        if ins.mnemonic in ("adr", "ldr", "ldrsw") and len(operands(ins.op_str)) == 2:
            t = _TARGET.search(ins.op_str)
            if t:
                return int(t.group(1), 16)
        return None

    def addresses_from(self, state: dict, ins) -> list:
        """Addresses an instruction computes (adrp + add: the second gives it)."""
        if ins.mnemonic in ("add", "adr"):
            return [v for _r, v in self.effects(state, ins) if v is not None]
        return []

    def effects(self, state: dict, ins) -> list:
        m, ops = ins.mnemonic, operands(ins.op_str)
        out = []
        for op in ops:                   # pre/post-indexed addressing moves the base
            if op.startswith("[") and (op.endswith("!") or op is not ops[-1]):
                out.append((reg(op[1:].split(",")[0].rstrip("]!")), None))
        if len(ops) >= 2 and ops[-2].endswith("]") and not ops[-1].startswith("["):
            out.append((reg(ops[-2][1:].split(",")[0].rstrip("]")), None))
        if not ops or m in _NO_DEST or m.startswith(("b.", "st")):
            return out
        dest = reg(ops[0])
        if m in ("ldp", "ldnp", "ldpsw") and len(ops) > 1:
            out.append((reg(ops[1]), None))
        out.append((dest, self._value(state, m, ops)))
        if ops[0].startswith("w") and out[-1][1] is not None:
            out[-1] = (dest, out[-1][1] & 0xFFFFFFFF)
        return out

    @staticmethod
    def _value(state, m, ops):
        def val(op):
            op = reg(op)
            return 0 if op == "xzr" else state.get(op, immediate(op))
        if m in ("mov", "movz", "adrp", "adr") and len(ops) == 2:
            return val(ops[1])
        if m == "movz" and len(ops) == 3 and val(ops[1]) is not None:
            shift = immediate(ops[2].replace("lsl", "").strip())
            return None if shift is None else val(ops[1]) << shift
        if m == "movk" and len(ops) >= 2:
            old, imm = state.get(reg(ops[0])), immediate(ops[1])
            shift = immediate(ops[2].replace("lsl", "").strip()) if len(ops) == 3 else 0
            if None in (old, imm, shift):
                return None
            return (old & ~(0xFFFF << shift)) | imm << shift
        if m in ("add", "sub", "orr") and len(ops) == 3:
            a, b = val(ops[1]), val(ops[2])
            if a is None or b is None:
                return None
            return a + b if m == "add" else a - b if m == "sub" else a | b
        if m in ("add", "sub") and len(ops) == 4 and ops[3] == "lsl #12":
            a, b = val(ops[1]), val(ops[2])
            if a is None or b is None:
                return None
            return a + (b << 12) if m == "add" else a - (b << 12)
        return None


TRACE = AArch64Trace()
