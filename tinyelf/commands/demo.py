"""``tinyelf demo SOURCE [ARG ...]``: build a sample, run it, compare with GNU ld.

The building is ``tinyelf build``'s (:func:`tinyelf.tools.toolchain.build_and_link`:
Rust with LTO and libcore, C, assembly, static or position-independent,
whichever is smaller); GNU ld then gets exactly the inputs tinyelf linked.
Every number printed comes from this run.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile


def register(sub):
    p = sub.add_parser("demo", help="build and run a sample; compare its size with GNU ld's",
                       description="Build SOURCE (.rs, .c, .s, .S, .asm) the way 'tinyelf build' "
                       "does, run it (with ARGs; stdin is passed on when it is not a terminal), "
                       "and print its size next to GNU ld's output for the same inputs.")
    p.add_argument("source", help="a sample source file, e.g. samples/hello.rs")
    p.add_argument("args", nargs="*", metavar="ARG",
                   help="arguments for the program (put -o before SOURCE when giving them)")
    p.add_argument("-o", "--output", default=None, metavar="OUT",
                   help="where to keep the packed executable (default: a temporary file)")
    return p


def _run_exe(path, args, stdin):
    proc = subprocess.run([os.path.abspath(path), *args], input=stdin, stdout=subprocess.PIPE,
                          timeout=60)
    return proc.stdout, proc.returncode


#: what GNU ld prints on every -N link: not news for this comparison
_LD_NOISE = ("LOAD segment with RWX permissions",)


def _ld_lines(text: str) -> list:
    return [l.strip() for l in text.splitlines()
            if l.strip() and not any(n in l for n in _LD_NOISE)]


def _why_ld_failed(detail: str) -> str:
    """One line: why GNU ld could not link (undefined names summed up)."""
    import re
    from .. import arch as archmod
    undefined = list(dict.fromkeys(re.findall(r"undefined reference to `([^']+)'", detail)))
    if undefined:
        ours = [u for u in undefined if u in archmod.host().builtins]
        why = f"undefined reference to {', '.join(undefined)}"
        if ours and len(ours) == len(undefined):
            why += (" (tinyelf links its own memcpy/strlen & co.; "
                    "with no libc GNU ld has none)")
        return why
    lines = _ld_lines(detail)
    line = next((l for l in lines if "error" in l or "cannot" in l), lines[0] if lines else "")
    return line[:160] or "no message"


def _ld_comparison(inputs, entry, tmp, size, result, args, stdin) -> str:
    """One line: GNU ld's size for the same inputs, whether its output
    behaves the same, or why GNU ld could not link them."""
    import shutil

    from ..tools import toolchain
    from ..errors import ToolchainError
    flags = " ".join(toolchain.LD_BASELINE_FLAGS)
    if shutil.which("ld") is None:
        return "GNU ld: not installed, no comparison"
    paths = [p for p in inputs if isinstance(p, (str, os.PathLike))]
    direct = [os.fspath(p) for p in paths if os.fspath(p).endswith(".asm")]
    if direct or len(paths) != len(inputs):
        what = direct[0] if direct else "an object tinyelf made in memory"
        return (f"GNU ld: no comparison: {what} is Intel-syntax assembly that tinyelf "
                "assembles itself (keystone); GNU ld links only object files")
    out = os.path.join(tmp, "prog.ld")
    warnings = []
    try:
        ld_size = toolchain.ld_baseline(paths, out, ["-e", entry], warnings=warnings)
    except ToolchainError as exc:
        return f"GNU ld ({flags}): cannot link the same inputs: {_why_ld_failed(exc.detail)}"
    line = f"GNU ld ({flags}): {ld_size:>6} bytes ({ld_size / size:.1f}x larger)"
    try:
        same = _run_exe(out, args, stdin) == result
    except OSError as exc:
        same, why = False, f"does not run ({exc.strerror or exc})"
    except subprocess.SubprocessError as exc:
        same, why = False, f"does not run ({exc})"
    else:
        why = "runs differently"
    line += ", runs the same" if same else f", {why}"
    warnings = _ld_lines("\n".join(warnings))
    if warnings:
        line += f"; {warnings[0].replace('/usr/bin/ld: ', 'ld: ')[:160]}"
    return line


def run(args) -> int:
    from ..tools import toolchain
    from ..linker.model import LinkOptions
    from ..tools.output import check_not_input, write_atomic
    if args.output:
        check_not_input(args.output, [args.source])
    stdin = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    with tempfile.TemporaryDirectory(prefix="tinyelf-demo-") as tmp:
        work = os.path.join(tmp, "build")
        os.mkdir(work)
        lk, inputs, how = toolchain.build_and_link(args.source, work, LinkOptions())
        exe = args.output or os.path.join(tmp, "prog")
        write_atomic(exe, lk.output)
        size = len(lk.output)
        result = _run_exe(exe, args.args, stdin)
        out = result[0].decode("utf-8", "replace")
        print(f"$ {' '.join([exe, *args.args])}")
        print(out, end="" if out.endswith("\n") or not out else "\n")
        print(f"[exit status {result[1]}]")
        detail = "; ".join(how) if how else f"layout {lk.layout.name}"
        print(f"tinyelf: {size:>6} bytes, {detail}")
        print(_ld_comparison(inputs, lk.options.entry, tmp, size, result, args.args, stdin))
    return 0
