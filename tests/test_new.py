"""`tinyelf new` (a Rust or C project that builds tiny) and `tinyelf cargo`
(cargo with tinyelf as the linker, no config file): build what they make and
run it, also as nobody."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import SAMPLES, run_exe, run_tinyelf

requires_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo not installed")
requires_make = pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")


def _env(tmp_path):
    """This environment's console scripts first on PATH, no RUSTFLAGS from outside."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep
               + os.environ.get("PATH", ""), CARGO_TARGET_DIR=str(tmp_path / "target"))
    for k in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"):
        env.pop(k, None)
    return env


def _runnable(path, build_dir):
    """A copy the unprivileged user can reach."""
    out = build_dir / f"new-{path.parent.name}-{path.name}"
    shutil.copy(path, out)
    return out


@requires_cargo
def test_new_rust_project_builds_a_tiny_hello(tmp_path, build_dir):
    r = run_tinyelf("new", "hello", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "next: cd hello && cargo build --release" in r.stdout
    project = tmp_path / "hello"
    for f in ("Cargo.toml", ".cargo/config.toml", "src/main.rs", "src/sys.rs"):
        assert (project / f).is_file(), f
    text = (project / "src/main.rs").read_text() + (project / "src/sys.rs").read_text()
    assert "global_asm" not in text and "fn _start" not in text
    proc = subprocess.run(["cargo", "build", "--release", "--offline", "--quiet"], cwd=project,
                          env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    exe = tmp_path / "target" / "release" / "hello"
    assert exe.stat().st_size <= 200, exe.stat().st_size
    exe = _runnable(exe, build_dir)
    assert run_exe(exe, "a", "b", as_nobody=True) == (b"Hello, world!\n", 0)


@requires_make
def test_new_c_project_builds_with_make(tmp_path, build_dir):
    r = run_tinyelf("new", "hi", "--lang", "c", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    project = tmp_path / "hi"
    proc = subprocess.run(["make", "--no-print-directory",
                           f"TINYELF={sys.executable} -m tinyelf"], cwd=project,
                          env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    exe = project / "hi"
    assert exe.stat().st_size <= 200, exe.stat().st_size
    assert run_exe(_runnable(exe, build_dir), as_nobody=True) == (b"Hello, world!\n", 0)


@pytest.mark.parametrize("name, why", [
    ("9lives", "not a usable program name"),
    ("core", "clashes with a Rust crate"),
    ("taken", "already exists"),
])
def test_new_refuses(tmp_path, name, why):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    r = run_tinyelf("new", name, cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("tinyelf: error: ") and why in r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_templates_fill_every_placeholder():
    from tinyelf.tools.templates import PROJECTS, render
    for lang in PROJECTS:
        for path, text in render(lang, "prog", linker="/x/tinyelf-ld", tinyelf="/x/tinyelf"):
            assert "{name}" not in text and "{linker}" not in text and "{tinyelf}" not in text
    config = dict(render("rust", "prog", linker="/x/tinyelf-ld"))[".cargo/config.toml"]
    assert 'linker = "/x/tinyelf-ld"' in config


@requires_cargo
def test_tinyelf_cargo_needs_no_config_file(tmp_path, build_dir):
    """samples/cargo-hello (the README's quick start: greets each argument)
    without its .cargo/config.toml: `tinyelf cargo build` links it with tinyelf
    and prints its size beside GNU ld's; and a `tinyelf new` hello without its
    config comes out at most 200 bytes the same way."""
    sample = tmp_path / "cargo-hello"
    shutil.copytree(SAMPLES / "cargo-hello", sample, ignore=shutil.ignore_patterns("target"))
    assert run_tinyelf("new", "hello", cwd=tmp_path).returncode == 0
    hello = tmp_path / "hello"
    for project in (sample, hello):
        shutil.rmtree(project / ".cargo")
        proc = subprocess.run([sys.executable, "-m", "tinyelf", "cargo", "build", "--release",
                               "--offline"], cwd=project, env=_env(tmp_path),
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        exe = tmp_path / "target" / "release" / project.name
        size = exe.stat().st_size
        line = next(l for l in proc.stderr.splitlines() if l.startswith("tinyelf: "))
        assert line.startswith(f"tinyelf: {exe}: {size} bytes; GNU ld"), line
        if project is hello:
            ld_size = int(line.split("): ")[1].split()[0])
            assert ld_size > size
        elif "GNU ld (" not in line:       # GNU ld has no memcpy/strlen of its own
            assert "undefined reference" in line, line
        runnable = _runnable(exe, build_dir)
        if project is hello:
            assert size <= 200
            assert run_exe(runnable, as_nobody=True)[1] == 0
        else:
            assert run_exe(runnable, "tiny", "elf", as_nobody=True) == \
                (b"Hello, tiny!\nHello, elf!\n", 2)


@requires_cargo
def test_tinyelf_cargo_passes_cargos_status(tmp_path):
    r = subprocess.run([sys.executable, "-m", "tinyelf", "cargo", "no-such-subcommand"],
                       cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True)
    assert r.returncode != 0 and "no such command" in r.stderr


def test_cargo_environment():
    from tinyelf.tools.cargo import RUSTFLAGS, environment
    env = environment("x86_64-unknown-linux-gnu", "/bin/tinyelf-ld",
                      base={"RUSTFLAGS": "-C target-cpu=native"})
    assert env["CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER"] == "/bin/tinyelf-ld"
    assert env["CARGO_ENCODED_RUSTFLAGS"].split("\x1f") == ["-C", "target-cpu=native", *RUSTFLAGS]
    assert "RUSTFLAGS" not in env
