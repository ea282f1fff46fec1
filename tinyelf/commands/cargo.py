"""``tinyelf cargo ARGS...``: cargo, linking the host target with tinyelf.

Runs ``cargo ARGS...`` with tinyelf-ld as the host target's linker and the
rustflags tinyelf wants (:mod:`tinyelf.tools.cargo`; environment variables
only, no config file), so an existing no_std crate builds tiny unedited.
Then prints, for each executable linked, its size beside GNU ld's output of
the same inputs (tinyelf-ld links them with GNU ld too while rustc's
temporary objects exist).  cargo's exit status is tinyelf's.
"""
from __future__ import annotations

import sys

def register(sub):
    p = sub.add_parser("cargo", help="run cargo with tinyelf as the linker; compare the sizes "
                       "with GNU ld",
                       description="Run 'cargo ARGS...' (e.g. 'tinyelf cargo build --release') "
                       "with tinyelf-ld as the host target's linker and -C panic=abort, "
                       "-C relocation-model=static added to RUSTFLAGS, through environment "
                       "variables (no .cargo/config.toml needed), then print each linked "
                       "executable's size beside GNU ld's for the same objects.  Everything "
                       "after 'cargo' goes to cargo.  Without --target the settings also reach "
                       "build scripts and proc macros, which a no_std crate rarely has.")
    p.add_argument("raw", nargs="*", metavar="ARG",
                   help="cargo's arguments (tinyelf passes them on unread)")
    return p


def _size_line(rec) -> str:
    from ..tools.cargo import final_name
    from ..tools.toolchain import LD_BASELINE_FLAGS
    name = final_name(rec["output"])
    line = f"tinyelf: {name}: {rec['tinyelf']} bytes"
    flags = " ".join(LD_BASELINE_FLAGS)
    if rec["ld"] is not None:
        line += f"; GNU ld ({flags}): {rec['ld']} bytes ({rec['ld'] / rec['tinyelf']:.1f}x larger)"
        if rec.get("ld_warning"):
            line += f"; {rec['ld_warning'].replace('/usr/bin/ld: ', 'ld: ')}"
    else:
        line += f"; GNU ld cannot link the same objects: {rec['ld_error']}"
    return line


def run(args) -> int:
    import os
    import shutil
    import subprocess
    import tempfile

    from ..errors import ToolchainError
    from ..tools import cargo
    cargo_exe = os.environ.get("CARGO") or shutil.which("cargo")
    if not cargo_exe:
        raise ToolchainError("cargo not found on PATH; install Rust (https://rustup.rs)")
    with tempfile.TemporaryDirectory(prefix="tinyelf-cargo-") as tmp:
        records = os.path.join(tmp, "links")
        os.mkdir(records)
        env = cargo.environment(cargo.host_target(), cargo.linker_command(tmp),
                                compare_dir=records)
        try:
            status = subprocess.run([cargo_exe, *args.raw], env=env).returncode
        except OSError as exc:
            raise ToolchainError(f"cannot run {cargo_exe}: {exc.strerror or exc}") from None
        links = cargo.read_records(records)
    for rec in links:
        print(_size_line(rec), file=sys.stderr)
    if not links and status == 0 and args.raw[:1] in (["build"], ["b"], ["run"], ["r"],
                                                             ["rustc"]):
        print("tinyelf: nothing was linked (up to date?); 'cargo clean' first to see the sizes",
              file=sys.stderr)
    return status
