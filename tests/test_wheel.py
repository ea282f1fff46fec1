"""The wheel is complete: built with `pip wheel --no-deps`, installed into a
fresh virtual environment, its console scripts run `tinyelf demo` and link a
Rust program from outside the source tree.

The fresh environment gets the wheel alone (``--no-deps``, no index needed);
lief, capstone and keystone-engine come from the environment running the
tests through a .pth line (a plain path: that environment's own .pth files,
such as an editable install of tinyelf, are not processed), and the test
checks that tinyelf itself is imported from the fresh environment."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from conftest import ROOT, SAMPLES

requires_ld = pytest.mark.skipif(shutil.which("ld") is None, reason="GNU ld not installed")
requires_rustc = pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc not installed")


#: pip's words when the package index cannot be reached
OFFLINE = ("No matching distribution found for setuptools", "Failed to establish a new connection",
           "Temporary failure in name resolution", "Network is unreachable")


def _can_build_here() -> bool:
    """setuptools that makes wheels without fetching anything (wheel installed,
    or setuptools 70.1+ with its own bdist_wheel): then no isolated build."""
    import importlib.util
    if importlib.util.find_spec("setuptools") is None:
        return False
    return (importlib.util.find_spec("wheel") is not None
            or importlib.util.find_spec("setuptools.command.bdist_wheel") is not None)


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"      # a copy: building writes build/ and *.egg-info next to the sources
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".benchmarks",
        "target", "tests", "benches"))
    isolation = ["--no-build-isolation"] if _can_build_here() else []
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation,
                           "-w", str(tmp / "dist"), str(src)], capture_output=True, text=True)
    if proc.returncode and not isolation and any(m in proc.stdout + proc.stderr for m in OFFLINE):
        pytest.skip("pip cannot fetch setuptools for an isolated build (index unreachable)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheel, = (tmp / "dist").glob("tinyelf-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                           "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    with open(os.path.join(site, "zz_test_deps.pth"), "w") as f:
        f.write("\n".join(sorted(deps)) + "\n")
    work = tmp / "elsewhere"
    work.mkdir()
    return {"wheel": wheel, "venv": venv, "py": py, "cwd": work}


def test_wheel_holds_every_module(wheel_env):
    names = set(zipfile.ZipFile(wheel_env["wheel"]).namelist())
    for path in (ROOT / "tinyelf").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        assert rel in names, f"{rel} is missing from the wheel"


def test_installed_tinyelf_is_the_wheels(wheel_env):
    out = subprocess.run([str(wheel_env["py"]), "-c", "import tinyelf; print(tinyelf.__file__)"],
                         cwd=wheel_env["cwd"], capture_output=True, text=True, check=True).stdout
    assert out.startswith(str(wheel_env["venv"])), out


@requires_ld
@requires_rustc
def test_wheel_runs_demo_outside_the_tree(wheel_env):
    sample = wheel_env["cwd"] / "hello.rs"
    shutil.copy(SAMPLES / "hello.rs", sample)
    r = subprocess.run([str(wheel_env["venv"] / "bin" / "tinyelf"), "demo", "hello.rs"],
                       cwd=wheel_env["cwd"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert "Hello" in r.stdout and "[exit status 0]" in r.stdout
    assert "tinyelf: " in r.stdout and "GNU ld" in r.stdout


def test_wheel_new_and_ld_scripts(wheel_env):
    """The templates are in the wheel, and tinyelf-ld is installed."""
    bin_dir = wheel_env["venv"] / "bin"
    r = subprocess.run([str(bin_dir / "tinyelf"), "new", "w"], cwd=wheel_env["cwd"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (wheel_env["cwd"] / "w" / "src" / "sys.rs").is_file()
    r = subprocess.run([str(bin_dir / "tinyelf-ld"), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("tinyelf-ld"), r.stderr


#: pip's words when it cannot reach the index (then the test skips, saying so)
UNREACHABLE = ("Failed to establish a new connection", "Temporary failure in name resolution",
               "Network is unreachable", "Could not fetch URL", "ConnectTimeoutError",
               "ProxyError", "Max retries exceeded")


@pytest.mark.parametrize("python", ["3.11", "3.14"])
def test_every_dependency_has_a_wheel(tmp_path, python):
    """pip installs tinyelf from wheels alone, without building lief, capstone or
    keystone-engine from source: each requirement in pyproject.toml has a
    wheel for CPython 3.11 (the oldest supported) and 3.14 (the newest)."""
    import tomllib
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {d.split(">")[0].split("=")[0].split("<")[0] for d in deps} == \
        {"lief", "capstone", "keystone-engine"}
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--only-binary=:all:",
                           "--python-version", python, "--no-deps", "-d", str(tmp_path), *deps],
                          capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    if proc.returncode and any(m in text for m in UNREACHABLE):
        pytest.skip(f"the package index is unreachable: {next(m for m in UNREACHABLE if m in text)}")
    assert proc.returncode == 0, text
    got = sorted(p.name.split("-")[0].lower().replace("_", "-") for p in tmp_path.glob("*.whl"))
    assert got == ["capstone", "keystone-engine", "lief"], text
