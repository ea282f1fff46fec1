"""``tinyelf demo SOURCE``: compile a sample, pack it, run it, compare with GNU ld."""
from __future__ import annotations

import os
import subprocess
import tempfile


def register(sub):
    p = sub.add_parser("demo", help="compile, pack and run a sample; compare with GNU ld",
                       description="Compile SOURCE (.rs or .c) with tinyelf's flags, pack it, "
                       "run it, and print its size next to GNU ld's output for the same object.")
    p.add_argument("source", help="a sample source file, e.g. samples/hello.rs")
    p.add_argument("-o", "--output", default=None, metavar="OUT",
                   help="where to keep the packed executable (default: a temporary file)")
    return p


def run(args) -> int:
    import shutil

    from .. import toolchain
    from ..driver import link
    from ..output import write_atomic
    with tempfile.TemporaryDirectory(prefix="tinyelf-demo-") as tmp:
        obj = toolchain.compile_source(args.source, os.path.join(tmp, "prog.o"))
        exe = args.output or os.path.join(tmp, "prog")
        data = link([obj])
        write_atomic(exe, data)
        proc = subprocess.run([os.path.abspath(exe)], stdout=subprocess.PIPE)
        out = proc.stdout.decode("utf-8", "replace")
        print(f"$ {exe}")
        print(out, end="" if out.endswith("\n") or not out else "\n")
        print(f"[exit status {proc.returncode}]")
        print(f"tinyelf pack:  {len(data):>6} bytes")
        if shutil.which("ld"):
            ld_size = toolchain.ld_baseline([obj], os.path.join(tmp, "prog.ld"))
            print(f"GNU ld ({' '.join(toolchain.LD_BASELINE_FLAGS)}): {ld_size:>6} bytes "
                  f"({ld_size / len(data):.1f}x larger)")
    return 0
