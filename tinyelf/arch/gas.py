"""Assembling with a cross GNU assembler, for arches keystone cannot do
(riscv64) or whose stub is an object with relocations (aarch64, riscv64).

Only ``python -m tinyelf.arch.prebuilt ARCH`` and the tests call this: a
link uses the prebuilt tables (tinyelf/arch/<arch>/prebuilt.py).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from ..errors import ToolchainError


def assemble_object(command: tuple, source: str, name: str):
    """``source`` assembled by ``command`` (e.g. riscv64-linux-gnu-as
    -march=rv64gc -mno-relax) and read back as an ObjectFile."""
    if shutil.which(command[0]) is None:
        raise ToolchainError(f"{command[0]} not found on PATH (needed to assemble {name})")
    from ..elf.reader import read_object
    with tempfile.TemporaryDirectory(prefix="tinyelf-gas-") as tmp:
        src, obj = os.path.join(tmp, "a.s"), os.path.join(tmp, "a.o")
        with open(src, "w") as f:
            f.write(source + "\n")
        proc = subprocess.run([*command, "-o", obj, src], capture_output=True, text=True)
        if proc.returncode:
            raise ToolchainError(f"{command[0]} failed on {name}", detail=proc.stderr)
        with open(obj, "rb") as f:
            return read_object(name, f.read(), cross_check=False)


def assemble(command: tuple, source: str, name: str) -> bytes:
    """The code of a one-function source (its executable section's bytes)."""
    obj = assemble_object(command, source, name)
    code = [s for s in obj.sections if s is not None and s.flags & 4 and s.size]
    if len(code) != 1:
        raise ToolchainError(f"{name}: expected one code section, found {len(code)}")
    return bytes(code[0].data)
