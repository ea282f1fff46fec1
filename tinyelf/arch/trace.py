"""What ``tinyelf inspect`` asks of a machine to follow and explain its code
(``Arch.trace_hints()``, each machine's ``trace.py``): where a path ends,
where a branch goes, which addresses an instruction names, and the
registers a system call reads, so that a syscall is shown as
``write(1, 0x400080 <msg>, 14)`` and an exit ends a path.

:class:`RegisterTrace` does the bookkeeping from capstone's text
(mnemonic, operand string); a machine says what its syscall instruction,
number register, argument registers and syscall numbers are, and how one
instruction changes a register (:meth:`RegisterTrace.effects`).

Linux's generic system call numbers (include/uapi/asm-generic/unistd.h,
used by arm64, riscv and the other newer ports) are here for the machines
that share them; the older ports (x86) keep their own table in their folder.
"""
from __future__ import annotations

import re

#: asm-generic/unistd.h: number -> (name, number of arguments shown)
GENERIC_SYSCALLS = {
    17: ("getcwd", 2), 23: ("dup", 1), 24: ("dup3", 3), 25: ("fcntl", 3), 29: ("ioctl", 3),
    35: ("unlinkat", 3), 48: ("faccessat", 3), 49: ("chdir", 1), 56: ("openat", 4),
    57: ("close", 1), 59: ("pipe2", 2), 61: ("getdents64", 3), 62: ("lseek", 3),
    63: ("read", 3), 64: ("write", 3), 65: ("readv", 3), 66: ("writev", 3), 78: ("readlinkat", 4),
    79: ("newfstatat", 4), 80: ("fstat", 2), 93: ("exit", 1), 94: ("exit_group", 1),
    96: ("set_tid_address", 1), 101: ("nanosleep", 2), 113: ("clock_gettime", 2),
    124: ("sched_yield", 0), 129: ("kill", 2), 134: ("rt_sigaction", 4),
    135: ("rt_sigprocmask", 4), 160: ("uname", 1), 169: ("gettimeofday", 2), 172: ("getpid", 0),
    174: ("getuid", 0), 214: ("brk", 1), 215: ("munmap", 2), 220: ("clone", 5),
    221: ("execve", 3), 222: ("mmap", 6), 226: ("mprotect", 3), 260: ("wait4", 4),
    278: ("getrandom", 3),
}

_INT = re.compile(r"^#?(-?(?:0x[0-9a-f]+|\d+))$")


def immediate(text: str):
    """The value of an immediate operand as capstone writes it (``#0x40``,
    ``-8``, ``0x10``), else None."""
    m = _INT.match(text.strip())
    return int(m.group(1), 0) if m else None


class RegisterTrace:
    """Register constants through straight-line code, for syscall notes.

    The state maps register names to known values; what is not in it is
    unknown.  Subclasses fill in the class attributes and :meth:`effects`.
    """
    #: mnemonics after which a path never continues
    stops: frozenset = frozenset()
    #: branches known taken / not taken at the first instruction (x86 flags)
    taken_at_start: frozenset = frozenset()
    falls_at_start: frozenset = frozenset()
    #: the syscall instruction's mnemonic (and operands, when they matter)
    syscall_insn: tuple = ()
    #: the register holding the syscall number, then those holding arguments
    number_reg: str = ""
    arg_regs: tuple = ()
    #: where the kernel puts a syscall's result
    return_reg: str = ""
    #: number -> (name, arguments)
    syscalls: dict = {}
    #: exit and exit_group
    exit_syscalls: tuple = ()
    #: registers the kernel sets at process start (ELF_PLAT_INIT, start_thread)
    initial: dict = {}
    #: registers a call leaves as they were (callee-saved)
    preserved: tuple = ()
    #: mask of a register's width (the values wrap)
    width_mask: int = (1 << 64) - 1

    def new_state(self, at_entry: bool = False) -> dict:
        return dict(self.initial) if at_entry else {}

    # ---- per machine
    def branch_target(self, ins) -> int | None:
        raise NotImplementedError

    def ends_path(self, ins, target) -> bool:
        raise NotImplementedError

    def pc_relative(self, ins) -> int | None:
        return None

    def addresses_in(self, ins) -> list:
        rel = self.pc_relative(ins)
        return [] if rel is None else [rel]

    def effects(self, state: dict, ins) -> list:
        """``[(register, value or None)]``: what ``ins`` writes (None: a
        value not known).  ``state`` gives the known values it reads."""
        raise NotImplementedError

    def is_call(self, ins) -> bool:
        """A call: every register may be changed by the callee."""
        return False

    # ---- generic
    def is_syscall(self, ins) -> bool:
        return (ins.mnemonic, ins.op_str)[:len(self.syscall_insn)] == self.syscall_insn

    def step(self, state: dict, ins, clobbers=None) -> None:
        """Update ``state`` for the effects of ``ins``; at a call,
        ``clobbers`` are the registers the callee writes when the caller
        knows them (else the ABI's caller-saved registers are lost)."""
        if self.is_call(ins):
            if clobbers is None:
                clobbers = [r for r in state if r not in self.preserved]
            for reg in clobbers:
                state.pop(reg, None)
            return
        if self.is_syscall(ins):          # the kernel's result; the rest is kept
            state.pop(self.return_reg, None)
            return
        for reg, value in self.effects(state, ins):
            if value is None:
                state.pop(reg, None)
            else:
                state[reg] = value & self.width_mask

    def exits(self, state: dict, ins) -> bool:
        """Track constants; True at an exit syscall (the path ends there)."""
        hit = self.is_syscall(ins) and state.get(self.number_reg) in self.exit_syscalls
        self.step(state, ins)
        return hit

    def syscall_note(self, state: dict, ins, name_of=None) -> str | None:
        """``write(1, 0x400080 <msg>, 14)`` for a syscall whose number is
        known, ``syscall ?`` when it is not; None for other instructions.
        ``name_of(addr)``: a symbol name for an address, or None."""
        if not self.is_syscall(ins):
            return None
        number = state.get(self.number_reg)
        if number is None:
            return f"syscall, number in {self.number_reg} not known here"
        name, nargs = self.syscalls.get(number, (f"syscall {number}", len(self.arg_regs)))
        args = []
        for reg in self.arg_regs[:nargs]:
            v = state.get(reg)
            if v is None:
                args.append(reg)
                continue
            if v > self.width_mask >> 1 and v - self.width_mask - 1 > -0x1000:
                args.append(str(v - self.width_mask - 1))      # AT_FDCWD is -100
                continue
            sym = name_of(v) if name_of and v >= 0x1000 else None
            args.append(f"{v:#x} <{sym}>" if sym else (str(v) if v < 0x1000 else f"{v:#x}"))
        return f"{name}({', '.join(args)})"
