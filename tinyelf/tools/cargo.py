"""cargo with tinyelf as the linker, set up through the environment alone.

:func:`environment` gives the variables that make cargo link the host
target's binaries with tinyelf-ld and compile them as tinyelf wants
(:data:`RUSTFLAGS`), so a no_std crate builds tiny without a
``.cargo/config.toml``.  With ``TINYELF_LD_COMPARE=DIR`` set, tinyelf-ld also
links the same inputs with GNU ld after its own link (while rustc's
temporary objects still exist) and leaves one JSON record per link in DIR
(:func:`record_link`); :func:`read_records` reads them back.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from ..errors import ToolchainError

#: what every crate gets (after the user's own RUSTFLAGS): no unwinding
#: (a no_std program has no unwinder, and needs no eh_personality then),
#: plain absolute code (tinyelf resolves everything at link time), and the
#: link arguments that make cc behave the same when it is put back as linker
RUSTFLAGS = ("-C", "panic=abort", "-C", "relocation-model=static",
             "-C", "link-arg=-nostartfiles", "-C", "link-arg=-static",
             "-C", "link-arg=-nostdlib")

#: the variable tinyelf-ld reads: a directory for the GNU ld comparison records
COMPARE_ENV = "TINYELF_LD_COMPARE"


def host_target() -> str:
    """The host's target triple, from ``rustc -vV``."""
    rustc = os.environ.get("RUSTC") or shutil.which("rustc")
    if not rustc:
        raise ToolchainError("rustc not found on PATH; install Rust (https://rustup.rs)")
    try:
        out = subprocess.run([rustc, "-vV"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True).stdout
    except OSError as exc:
        raise ToolchainError(f"cannot run {rustc}: {exc.strerror or exc}") from None
    for line in out.splitlines():
        if line.startswith("host: "):
            return line.split(": ", 1)[1].strip()
    raise ToolchainError(f"{rustc} -vV did not name the host target")


def linker_command(scratch: str) -> str:
    """The tinyelf-ld of this installation (beside this Python), else the one on
    PATH, else a two-line script in ``scratch`` running this tinyelf's
    ``tinyelf.tools.ld_driver`` (a source checkout run as ``python -m tinyelf``)."""
    beside = os.path.join(os.path.dirname(sys.executable), "tinyelf-ld")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("tinyelf-ld")
    if found:
        return found
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = os.path.join(scratch, "tinyelf-ld")
    with open(script, "w") as f:
        f.write(f"#!/bin/sh\nPYTHONPATH={_sh(root)}${{PYTHONPATH:+:$PYTHONPATH}} "
                f"exec {_sh(sys.executable)} -m tinyelf.tools.ld_driver \"$@\"\n")
    os.chmod(script, 0o755)
    return script


def _sh(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _user_rustflags(env) -> list:
    """The flags cargo would have used: CARGO_ENCODED_RUSTFLAGS (0x1f-separated)
    wins over RUSTFLAGS (space-separated), as in cargo itself."""
    encoded = env.get("CARGO_ENCODED_RUSTFLAGS")
    if encoded is not None:
        return [f for f in encoded.split("\x1f") if f]
    return env.get("RUSTFLAGS", "").split()


def environment(host: str, linker: str, base=None, compare_dir: str | None = None) -> dict:
    """``base`` (default: os.environ) with cargo's linker for ``host`` set to
    ``linker`` and :data:`RUSTFLAGS` appended to the user's own.  Note that
    without ``--target`` cargo applies both to build scripts and proc macros
    too (a no_std crate rarely has either)."""
    env = dict(os.environ if base is None else base)
    triple = host.upper().replace("-", "_").replace(".", "_")
    env[f"CARGO_TARGET_{triple}_LINKER"] = linker
    env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join([*_user_rustflags(env), *RUSTFLAGS])
    env.pop("RUSTFLAGS", None)
    if compare_dir:
        env[COMPARE_ENV] = compare_dir
    return env


def record_link(plan, size: int, directory: str) -> None:
    """Link ``plan``'s inputs with GNU ld (the baseline flags, the same entry
    and roots) and write a JSON record: the output, tinyelf's size, GNU ld's
    size or why it could not link.  Never raises: a failed comparison must not
    fail the build."""
    from . import toolchain
    from ..errors import TinyElfError
    rec = {"output": os.path.abspath(plan.output), "tinyelf": size, "ld": None,
           "ld_error": None, "ld_warning": None}
    ld_out = os.path.join(directory, f"{os.getpid()}.ld")
    extra = ["-e", plan.options.entry]
    for sym in (*plan.options.undefined, *plan.options.require_defined):
        extra += ["-u", sym]
    warnings = []
    try:
        rec["ld"] = toolchain.ld_baseline(plan.inputs, ld_out, extra, warnings=warnings)
        noise = [w for w in warnings if "LOAD segment with RWX" not in w]
        rec["ld_warning"] = noise[0][:200] if noise else None
        if any("cannot find entry symbol" in w for w in noise):
            rec["ld_warning"] = (f"GNU ld finds no {plan.options.entry} (tinyelf added its start "
                                 "stub for main), so its output does not run")
    except TinyElfError as exc:
        detail = [l for l in (getattr(exc, "detail", "") or "").splitlines()
                  if l.strip() and "LOAD segment with RWX" not in l]
        telling = [l for l in detail if "undefined reference" in l or "error" in l] or detail
        rec["ld_error"] = (telling[0] if telling else exc.messages[0])[:200]
    except OSError as exc:
        rec["ld_error"] = str(exc)[:200]
    try:
        if os.path.exists(ld_out):
            os.unlink(ld_out)
        with open(os.path.join(directory, f"{os.getpid()}.json"), "w") as f:
            json.dump(rec, f)
    except OSError:
        pass


def read_records(directory: str) -> list:
    out = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json"):
            with open(os.path.join(directory, name)) as f:
                out.append(json.load(f))
    return out


def final_name(path: str) -> str:
    """cargo hard-links ``target/<profile>/deps/NAME-HASH`` to
    ``target/<profile>/NAME``: that name when it exists, else ``path``."""
    deps = os.path.dirname(path)
    if os.path.basename(deps) != "deps":
        return path
    profile = os.path.dirname(deps)
    try:
        for entry in os.scandir(profile):
            if entry.is_file() and os.path.samefile(entry.path, path):
                return entry.path
    except OSError:
        pass
    return path
