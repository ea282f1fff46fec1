"""The tinyelf command line itself: --version, --help, one subcommand's imports."""
from __future__ import annotations

import re
import subprocess
import sys

from conftest import run_tinyelf


def test_version_names_the_engines():
    from importlib.metadata import version
    r = run_tinyelf("--version")
    assert r.returncode == 0 and r.stderr == ""
    m = re.fullmatch(r"tinyelf (\S+) \(lief (\S+), capstone (\S+), keystone-engine (\S+)\)\n",
                     r.stdout)
    assert m, r.stdout
    assert m.group(2) == version("lief") and m.group(3) == version("capstone")


def test_pack_imports_no_engine(sample_obj, tmp_path):
    """lief (0.5-1.2 s to import from 0.16 on, more than a whole link),
    capstone and keystone stay out of a plain link of an object; any lief
    version may be installed (pyproject.toml no longer pins 0.15)."""
    code = ("import sys; from tinyelf import cli; s = cli.main(sys.argv[1:]); "
            "print(s, sorted(m for m in ('lief', 'capstone', 'keystone') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, "pack", str(sample_obj("hello.c")),
                          "-o", str(tmp_path / "h")], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    assert out.strip() == "0 []"


def test_pack_imports_only_its_own_command():
    code = ("import sys; from tinyelf import cli; cli.build_parser('pack'); "
            "print(sorted(m for m in sys.modules if m.startswith('tinyelf.commands.')))")
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    assert out.strip() == "['tinyelf.commands.pack']"


def test_help_lists_every_command():
    from tinyelf.cli import COMMANDS
    r = run_tinyelf("--help")
    assert r.returncode == 0
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\s", r.stdout, re.M), name


def test_pack_time_lists_every_pass(sample_obj, tmp_path):
    from tinyelf.linker.driver import PASSES, PASS_NAMES
    from conftest import run_exe
    out = tmp_path / "hello"
    r = run_tinyelf("pack", sample_obj("hello.c"), "-o", out, "--time")
    assert r.returncode == 0 and r.stdout == ""
    names = [line.split()[2] for line in r.stderr.splitlines()]
    want = ["read"] + [PASS_NAMES.get(p.__name__, p.__name__) for p in PASSES]
    assert names[:-1] == want and names[-1] in ("process", "passes")
    for line in r.stderr.splitlines():
        assert re.fullmatch(r"tinyelf: time: \S+ +\d+(\.\d)? +ms.*", line), line
    assert run_exe(out, as_nobody=True) == (b"Hello, world!\n", 0)
