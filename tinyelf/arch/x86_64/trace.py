"""What ``tinyelf inspect`` needs to follow x86-64 code from the entry point:
which instructions end a path, where branches go, which addresses an
instruction names, and just enough register tracking to see an exit
syscall (a path ends there).  Generic inspect code asks ``Arch.trace_hints()``."""
from __future__ import annotations

import re

_RIP = re.compile(r"rip ([+-]) (0x[0-9a-f]+)")
_IMM = re.compile(r"(?<![\w+-])(0x[0-9a-f]{4,})\b")
_ACC = ("eax", "rax", "al", "ax")


class X86Trace:
    #: mnemonics after which a path never continues
    stops = frozenset({"ret", "retf", "hlt", "ud2", "int3", "iret", "iretq", "sysret"})
    #: conditional jumps taken when every arithmetic flag is clear, as the
    #: kernel starts a process (RFLAGS = 0x202); the others fall through.  At
    #: the entry point only (dyn68's magic starts with 7f 45: jg, always taken)
    taken_at_start = frozenset({"jno", "jae", "jnb", "jnc", "jne", "jnz", "jns", "jnp", "jpo",
                                "ja", "jnbe", "jge", "jnl", "jg", "jnle"})
    falls_at_start = frozenset({"jo", "jb", "jc", "jnae", "je", "jz", "js", "jp", "jpe", "jbe",
                                "jna", "jl", "jnge", "jle", "jng"})
    #: exit and exit_group
    exit_syscalls = (60, 231)
    syscall = "syscall"
    accumulator = ("eax", "rax")

    def branch_target(self, ins) -> int | None:
        """The target of a direct jump, call or loop, else None."""
        m, ops = ins.mnemonic, ins.op_str
        if ops.startswith("0x") and m.startswith(("j", "call", "loop")):
            try:
                return int(ops, 16)
            except ValueError:
                return None
        return None

    def ends_path(self, ins, target) -> bool:
        m = ins.mnemonic
        return m in self.stops or m == "jmp" or (m.startswith("j") and target is None)

    def pc_relative(self, ins) -> int | None:
        """The address a rip-relative operand names, else None."""
        m = _RIP.search(ins.op_str)
        if not m:
            return None
        disp = int(m.group(2), 16) * (1 if m.group(1) == "+" else -1)
        return ins.address + ins.size + disp

    def addresses_in(self, ins) -> list:
        """Addresses an instruction names: rip-relative targets and immediates."""
        out = []
        rel = self.pc_relative(ins)
        if rel is not None:
            out.append(rel)
        out += [int(m.group(1), 16) for m in _IMM.finditer(ins.op_str)]
        return out

    def new_state(self, at_entry: bool = False) -> dict:
        return {"acc": None, "pushed": None}

    def exits(self, state: dict, ins) -> bool:
        """Track constants in the accumulator; True at an exit syscall."""
        m, ops = ins.mnemonic, ins.op_str
        last = ops.split(", ")[-1]
        if m == "mov" and ops.split(",")[0] in _ACC[:3] and last[:1].isdigit():
            try:
                state["acc"] = int(last, 0)
            except ValueError:
                state["acc"] = None
        elif m == "push" and ops[:1].isdigit():
            state["pushed"] = int(ops, 0)
        elif m == "pop" and ops in self.accumulator:
            state["acc"] = state["pushed"]
        elif m == "xor" and ops in tuple(f"{r}, {r}" for r in self.accumulator):
            state["acc"] = 0
        elif ops.startswith(_ACC) and m not in ("cmp", "test", "push"):
            state["acc"] = None
        return m == self.syscall and state["acc"] in self.exit_syscalls


TRACE = X86Trace()
