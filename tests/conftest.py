"""Shared fixtures: compile samples once per session, run produced binaries."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def run_tinyelf(*args, cwd=None):
    """Run the tinyelf command line in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "tinyelf", *map(str, args)], cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_exe(path, *args, stdin=b"", as_nobody=False, timeout=10):
    """Execute a produced binary; return (stdout bytes, exit status)."""
    cmd = [str(path), *map(str, args)]
    if as_nobody:
        cmd = nobody_prefix() + cmd
    proc = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)
    return proc.stdout, proc.returncode


#: the folders build_dir opened for nobody (o+x), opened again before each run as
#: nobody: another pytest session starting on this machine sets /tmp/pytest-of-USER
#: back to 0700, and nobody's runs would then fail with "Permission denied"
_OPENED: list = []


def _open_for_nobody(paths) -> None:
    for path in paths:
        try:
            os.chmod(path, os.stat(path).st_mode | 0o011)
        except (PermissionError, FileNotFoundError):
            break


def nobody_prefix():
    """A command prefix that drops to an unprivileged user (when we are root)."""
    if os.geteuid() != 0:
        return []
    _open_for_nobody(_OPENED)
    pw = pwd.getpwnam("nobody")
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups"]


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("build")
    os.chmod(d, 0o755)  # let the unprivileged user reach the binaries
    parent = d.parent
    while parent != parent.parent:
        if parent == Path("/tmp") or parent == Path(os.environ.get("TMPDIR", "/tmp")):
            break
        _OPENED.append(parent)
        parent = parent.parent
    _open_for_nobody(_OPENED)
    return d


@pytest.fixture(scope="session")
def sample_obj(build_dir):
    """Compile a sample (by file name) once; return the object's path."""
    from tinyelf.tools import toolchain
    cache = {}

    def get(name, extra=()):
        key = (name, tuple(extra))
        if key not in cache:
            src = SAMPLES / name
            out = build_dir / (name.replace(".", "_") + "_" + str(len(cache)) + ".o")
            cache[key] = Path(toolchain.compile_source(src, out, extra))
        return cache[key]
    return get


requires_rustc = pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc not installed")
requires_ld = pytest.mark.skipif(shutil.which("ld") is None, reason="GNU ld not installed")


def layout_specs(arch=None):
    """Every header layout tinyelf has for ``arch`` (an arch name; default:
    the machine the tests run on, which the samples are compiled for), from
    the registry, largest header first; tests take layout names from here,
    never from a list of their own."""
    from tinyelf import arch as archmod
    from tinyelf.linker import layouts
    return list(layouts.for_arch(archmod.get(arch) if arch else archmod.host()))


def layout_names(auto: bool = True, arch=None) -> list:
    """``--layout`` values: "auto" (when ``auto``) and every layout of ``arch``."""
    return (["auto"] if auto else []) + [spec.name for spec in layout_specs(arch)]
