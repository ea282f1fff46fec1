"""samples/cargo-hello: `cargo build` with tinyelf-ld as the linker."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import SAMPLES, run_exe
from test_rust_samples import tinyelf_ld

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo not installed")


@pytest.mark.parametrize("profile", ["release", "dev"])
def test_cargo_build(tmp_path, build_dir, profile):
    project = tmp_path / "cargo-hello"
    shutil.copytree(SAMPLES / "cargo-hello", project)
    # cargo finds the linker named in .cargo/config.toml on PATH: put this
    # environment's tinyelf-ld first
    ld_dir = os.path.dirname(tinyelf_ld(tmp_path))
    env = dict(os.environ, PATH=ld_dir + os.pathsep + os.environ.get("PATH", ""),
               CARGO_TARGET_DIR=str(tmp_path / "target"))
    env.pop("RUSTFLAGS", None)
    args = ["cargo", "build", "--offline", "--quiet"] + (["--release"] if profile == "release" else [])
    proc = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    exe = tmp_path / "target" / ("release" if profile == "release" else "debug") / "cargo-hello"
    out = build_dir / f"cargo-hello-{profile}"
    shutil.copy(exe, out)
    assert run_exe(out, as_nobody=True) == (b"Hello from cargo!\n", 0)
