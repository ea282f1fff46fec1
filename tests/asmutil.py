"""Assemble GNU-syntax test snippets into relocatable objects with `as`."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

requires_as = pytest.mark.skipif(shutil.which("as") is None, reason="GNU as not installed")

EXIT_OK = """
    mov $60, %eax
    xor %edi, %edi
    syscall
"""
EXIT_FAIL = """
fail:
    mov $60, %eax
    mov $1, %edi
    syscall
"""


def assemble(source: str, out: Path, extra=()) -> Path:
    src = out.with_suffix(".s")
    src.write_text(source)
    subprocess.run(["as", "--64", *extra, "-o", str(out), str(src)], check=True)
    return out
