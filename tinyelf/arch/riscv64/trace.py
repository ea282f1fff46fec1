"""What ``tinyelf inspect`` needs to follow and explain RISC-V code
(capstone's operand text, RV64GC): ``ecall`` with the number in a7 and
arguments in a0..a5, Linux's generic syscall numbers, branches and jumps
whose operands are offsets from the instruction, ``auipc``+``jalr`` calls,
and constants built by ``lui``/``auipc``+``addi``, ``li``, ``mv``.
Generic code asks ``Arch.trace_hints()``."""
from __future__ import annotations

from ..trace import GENERIC_SYSCALLS, RegisterTrace, immediate

_BRANCHES = frozenset({"beq", "bne", "blt", "bge", "bltu", "bgeu", "c.beqz", "c.bnez",
                       "beqz", "bnez", "blez", "bgez", "bltz", "bgtz", "bgt", "ble",
                       "bgtu", "bleu"})
#: instructions whose first operand is read, not written
_NO_DEST = _BRANCHES | {"ecall", "ebreak", "c.ebreak", "fence", "fence.i", "c.nop", "nop",
                        "ret", "j", "c.j", "jr", "c.jr", "c.jalr", "unimp", "c.unimp", "wfi"}
_STORES = ("sb", "sh", "sw", "sd", "c.sw", "c.sd", "c.swsp", "c.sdsp", "fsw", "fsd", "c.fsd",
           "c.fsdsp")
_MASK32 = 0xFFFFFFFF


def _sext32(v: int) -> int:
    v &= _MASK32
    return v - (1 << 32) if v & 0x80000000 else v


def _ops(op_str: str) -> list:
    return [o.strip() for o in op_str.split(",")] if op_str.strip() else []


class RiscVTrace(RegisterTrace):
    stops = frozenset({"ret", "ebreak", "c.ebreak", "unimp", "c.unimp", "mret", "sret"})
    syscall_insn = ("ecall",)
    number_reg = "a7"
    arg_regs = ("a0", "a1", "a2", "a3", "a4", "a5")
    return_reg = "a0"
    syscalls = GENERIC_SYSCALLS
    exit_syscalls = (93, 94)
    #: the kernel sets only pc, sp and a0 (0: no rtld_fini) before the first instruction
    initial = {"a0": 0}
    #: the psABI's callee-saved registers
    preserved = ("sp", "gp", "tp", "s0", "s1") + tuple(f"s{i}" for i in range(2, 12))

    def branch_target(self, ins) -> int | None:
        """Targets written as offsets from the instruction (capstone's way on RISC-V)."""
        m, ops = ins.mnemonic, _ops(ins.op_str)
        if m in _BRANCHES or m in ("jal", "j", "c.j", "c.jal"):
            off = immediate(ops[-1]) if ops else None
            return None if off is None else ins.address + off
        return None

    def target_in(self, state: dict, ins) -> int | None:
        """The target of a jump through a register whose value is known
        (``auipc ra, hi; jalr ra, lo(ra)``: a call)."""
        t = self.branch_target(ins)
        if t is not None or ins.mnemonic not in ("jalr", "jr", "c.jr", "c.jalr"):
            return t
        ops = _ops(ins.op_str)
        base = ops[1] if len(ops) == 3 else ops[0] if ops else None
        off = immediate(ops[2]) if len(ops) == 3 else 0
        if base is None or base not in state or off is None or (base == "ra" and len(ops) < 3):
            return None
        return (state[base] + off) & ~1

    def ends_path(self, ins, target) -> bool:
        m, ops = ins.mnemonic, _ops(ins.op_str)
        if m in self.stops or m in ("j", "c.j", "jr", "c.jr"):
            return True
        if m == "jalr" and len(ops) == 3 and ops[0] == "zero":
            return True
        return m == "jal" and len(ops) == 2 and ops[0] == "zero"

    def is_call(self, ins) -> bool:
        m, ops = ins.mnemonic, _ops(ins.op_str)
        if m in ("c.jalr", "c.jal"):
            return True
        return m in ("jal", "jalr") and (len(ops) < 2 or ops[0] == "ra")

    def addresses_from(self, state: dict, ins) -> list:
        """Addresses an instruction computes (``auipc``/``lui`` + ``addi``)."""
        if ins.mnemonic in ("addi", "c.addi", "addiw", "auipc"):
            return [v for _r, v in self.effects(state, ins) if v is not None]
        return []

    def effects(self, state: dict, ins) -> list:
        m, ops = ins.mnemonic, _ops(ins.op_str)
        if not ops or m in _NO_DEST or m in _STORES:
            return []
        if m in ("jal", "jalr"):
            return [("ra" if len(ops) < 2 else ops[0], ins.address + ins.size)]
        return [(ops[0], self._value(state, ins, m, ops))] if ops[0] != "zero" else []

    @staticmethod
    def _value(state, ins, m, ops):
        def val(op):
            return 0 if op == "zero" else state.get(op, immediate(op))
        m = m[2:] if m.startswith("c.") else m
        if m in ("li", "mv") and len(ops) == 2:
            return val(ops[1])
        if m == "lui" and len(ops) == 2 and immediate(ops[1]) is not None:
            return _sext32(immediate(ops[1]) << 12)
        if m == "auipc" and len(ops) == 2 and immediate(ops[1]) is not None:
            return ins.address + _sext32(immediate(ops[1]) << 12)
        if m in ("addi", "addiw", "add", "addw", "addi16sp", "addi4spn"):
            a, b = (val(ops[0]), val(ops[1])) if len(ops) == 2 else (val(ops[1]), val(ops[2]))
            if a is None or b is None:
                return None
            return _sext32(a + b) if m.endswith("w") else a + b
        if m in ("sext.w",) and len(ops) == 2:
            a = val(ops[1])
            return None if a is None else _sext32(a)
        return None


TRACE = RiscVTrace()
