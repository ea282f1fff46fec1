"""External compilers and linkers: the one place their flags live.

tinyelf links; these helpers compile samples and tests and make the GNU ld
baseline it is compared with.  The flags below are the ones documented in
the README: change them here only.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from .errors import ToolchainError

#: no_std Rust to a relocatable object: smallest code, no unwinding, static
#: addresses (tinyelf resolves everything at link time)
RUSTC_OBJ_FLAGS = ("--edition", "2021", "--crate-type", "bin", "--emit=obj",
                   "-C", "panic=abort", "-C", "opt-level=z", "-C", "codegen-units=1",
                   "-C", "relocation-model=static", "-C", "debuginfo=0",
                   "-C", "force-unwind-tables=no")

#: freestanding C: smallest code, no unwind tables, one section per function
#: and object so that garbage collection can drop what is unused
CC_OBJ_FLAGS = ("-c", "-Os", "-ffreestanding", "-fno-pie", "-fno-stack-protector",
                "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
                "-ffunction-sections", "-fdata-sections", "-fno-plt")

#: the GNU ld baseline every size is compared with
LD_BASELINE_FLAGS = ("-static", "-nostdlib", "-n", "-N", "-s", "--gc-sections",
                     "--build-id=none")


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolchainError(f"{tool} not found on PATH; install it to build this input")
    return path


def _run(cmd, what: str) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise ToolchainError(f"{what} failed (exit status {proc.returncode}):\n{detail}")


def compile_rust(src, out, extra=()) -> str:
    """``rustc`` a no_std source file to a relocatable object."""
    _run([_need("rustc"), *RUSTC_OBJ_FLAGS, *extra, "-o", os.fspath(out), os.fspath(src)],
         f"rustc {src}")
    return os.fspath(out)


def compile_c(src, out, extra=(), cc: str = "gcc") -> str:
    """Compile a freestanding C source file to a relocatable object."""
    _run([_need(cc), *CC_OBJ_FLAGS, *extra, "-o", os.fspath(out), os.fspath(src)],
         f"{cc} {src}")
    return os.fspath(out)


def compile_source(src, out, extra=()) -> str:
    """Compile ``src`` by its extension (.rs or .c)."""
    s = os.fspath(src)
    if s.endswith(".rs"):
        return compile_rust(src, out, extra)
    if s.endswith(".c"):
        return compile_c(src, out, extra)
    raise ToolchainError(f"{s}: don't know how to compile this (expected .rs or .c)")


def ld_baseline(objects, out, extra=()) -> int:
    """Link with GNU ld the usual minimal way; return the output's size."""
    _run([_need("ld"), *LD_BASELINE_FLAGS, *extra, "-o", os.fspath(out),
          *map(os.fspath, objects)], "GNU ld")
    return os.path.getsize(out)
