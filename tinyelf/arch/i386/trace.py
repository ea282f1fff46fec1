"""What ``tinyelf inspect`` needs to follow and explain i386 code: the
32-bit syscall ABI (``int 0x80``, number in eax, arguments in ebx, ecx,
edx, esi, edi, ebp; i386's own numbers), constants through ``mov``/``xor``/
``push``+``pop``/``inc``/``dec``/``lea`` and the partial registers (al, bl,
...).  Branches, path ends and the flags at the first instruction are
x86's (tinyelf/arch/x86_64/trace.py).  Generic code asks ``Arch.trace_hints()``."""
from __future__ import annotations

from ..trace import RegisterTrace, immediate
from ..x86_64.trace import TRACE as X86

#: arch/x86/entry/syscalls/syscall_32.tbl: number -> (name, arguments)
SYSCALLS = {
    1: ("exit", 1), 2: ("fork", 0), 3: ("read", 3), 4: ("write", 3), 5: ("open", 3),
    6: ("close", 1), 7: ("waitpid", 3), 11: ("execve", 3), 12: ("chdir", 1), 13: ("time", 1),
    19: ("lseek", 3), 20: ("getpid", 0), 24: ("getuid", 0), 33: ("access", 2),
    37: ("kill", 2), 41: ("dup", 1), 42: ("pipe", 1), 45: ("brk", 1), 54: ("ioctl", 3),
    63: ("dup2", 2), 90: ("mmap", 1), 91: ("munmap", 2), 102: ("socketcall", 2),
    114: ("wait4", 4), 122: ("uname", 1), 125: ("mprotect", 3), 141: ("getdents", 3),
    146: ("writev", 3), 162: ("nanosleep", 2), 174: ("rt_sigaction", 4),
    175: ("rt_sigprocmask", 4), 183: ("getcwd", 2), 192: ("mmap2", 6), 252: ("exit_group", 1),
    295: ("openat", 4), 355: ("getrandom", 3),
}

_FULL = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp")
#: partial register -> (full register, shift, mask)
_PARTS = {}
for _r in "abcd":
    _PARTS.update({f"{_r}l": (f"e{_r}x", 0, 0xFF), f"{_r}h": (f"e{_r}x", 8, 0xFF),
                   f"{_r}x": (f"e{_r}x", 0, 0xFFFF)})
for _r in ("si", "di", "bp"):
    _PARTS[_r] = (f"e{_r}", 0, 0xFFFF)
for _r in _FULL:
    _PARTS[_r] = (_r, 0, 0xFFFFFFFF)
_NO_DEST = frozenset({"cmp", "test", "push", "int", "jmp", "call", "ret", "nop", "hlt",
                      "int3", "ud2", "bt", "sysenter", "cld", "std", "clc", "stc"})


class I386Trace(RegisterTrace):
    stops = X86.stops
    taken_at_start = X86.taken_at_start
    falls_at_start = X86.falls_at_start
    syscall_insn = ("int", "0x80")
    number_reg = "eax"
    arg_regs = ("ebx", "ecx", "edx", "esi", "edi", "ebp")
    return_reg = "eax"
    syscalls = SYSCALLS
    exit_syscalls = (1, 252)
    #: ELF_PLAT_INIT (elf_common_init) zeroes the general registers
    initial = {r: 0 for r in _FULL}
    width_mask = 0xFFFFFFFF
    #: cdecl: a call keeps these (and the stack)
    preserved = ("ebx", "esi", "edi", "ebp", "_pushed")

    branch_target = X86.branch_target
    ends_path = X86.ends_path
    pc_relative = X86.pc_relative
    addresses_in = X86.addresses_in

    def is_call(self, ins) -> bool:
        return ins.mnemonic == "call"

    def effects(self, state: dict, ins) -> list:
        m, ops = ins.mnemonic, [o.strip() for o in ins.op_str.split(",")] if ins.op_str else []
        pushed = state.get("_pushed", ())       # a tuple: states are copied shallowly
        if m == "push":
            state["_pushed"] = pushed + (self._read(state, ops[0]) if ops else None,)
            return []
        if m == "pop" and ops:
            state["_pushed"] = pushed[:-1]
            return self._write(state, ops[0], pushed[-1] if pushed else None)
        if not ops or m in _NO_DEST or ops[0] not in _PARTS:
            return []
        if m == "xchg" and len(ops) == 2 and ops[1] in _PARTS:
            a, b = self._read(state, ops[0]), self._read(state, ops[1])
            return self._write(state, ops[0], b) + self._write(state, ops[1], a)
        return self._write(state, ops[0], self._value(state, m, ops))

    def _value(self, state, m, ops):
        a = self._read(state, ops[0])
        b = self._read(state, ops[1]) if len(ops) > 1 else None
        if m == "mov":
            return b
        if m in ("xor", "sub") and len(ops) == 2 and ops[0] == ops[1]:
            return 0
        if m in ("inc", "dec") and a is not None:
            return a + (1 if m == "inc" else -1)
        if m in ("add", "sub", "or", "and", "xor") and None not in (a, b):
            return {"add": a + b, "sub": a - b, "or": a | b, "and": a & b, "xor": a ^ b}[m]
        if m == "lea" and ops[1].startswith("["):
            return self._address(state, ops[1][1:-1])
        return None

    @staticmethod
    def _address(state, expr):
        total = 0
        for term in expr.replace("- ", "+ -").split("+"):
            term = term.strip()
            v = immediate(term) if not term.lstrip("-") in _PARTS else state.get(term.lstrip("-"))
            if v is None:
                return None
            total += -v if term.startswith("-") and term.lstrip("-") in _PARTS else v
        return total

    @staticmethod
    def _read(state, op):
        if op in _PARTS:
            full, shift, mask = _PARTS[op]
            v = state.get(full)
            return None if v is None else (v >> shift) & mask
        return immediate(op)

    @staticmethod
    def _write(state, op, value):
        if op not in _PARTS:
            return []
        full, shift, mask = _PARTS[op]
        if mask == 0xFFFFFFFF:
            return [(full, value)]
        old = state.get(full)
        if old is None or value is None:
            return [(full, None)]
        return [(full, (old & ~(mask << shift)) | (value & mask) << shift)]


TRACE = I386Trace()
