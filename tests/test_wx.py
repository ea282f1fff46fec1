"""--wx: code R+X and data R+W mapped from the same file page; the report
warns about writable and executable segments."""
from __future__ import annotations

import json

import pytest

from conftest import layout_specs, run_exe, run_tinyelf

PROG = r"""
static long sys3(long n, long a, long b, long c)
{ long ret; __asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c)
                              : "rcx", "r11", "memory"); return ret; }
char buf[8] = "Hi, Wx\n";
long counter;
char big[100];
void _start(void)
{
    buf[0] = 'h'; counter += 3; big[99] = (char)counter;
    sys3(1, 1, (long)buf, 7);
    sys3(60, big[99] + 2, 0, 0);
    __builtin_unreachable();
}
"""

#: layouts with room for two program headers (code R+X, data R+W)
WX_LAYOUTS = ["auto"] + [s.name for s in layout_specs() if s.max_phnum >= 2]
ONE_HEADER = [s.name for s in layout_specs() if s.max_phnum < 2]


@pytest.fixture(scope="module")
def data_obj(tmp_path_factory):
    from tinyelf.tools import toolchain
    d = tmp_path_factory.mktemp("wx")
    src = d / "data.c"
    src.write_text(PROG)
    return toolchain.compile_c(src, d / "data.o", ["-fPIE"])


def segments(path):
    from tinyelf.elf.lief_check import parse_executable
    info = parse_executable(path.read_bytes())
    return [s for s in info["segments"] if s["type"] == "LOAD"]


@pytest.mark.parametrize("layout", WX_LAYOUTS)
def test_wx_outputs_run_and_have_no_wx_page(data_obj, build_dir, layout):
    exe = build_dir / f"wx_{layout}"
    proc = run_tinyelf("pack", data_obj, "--wx", "--layout", layout, "-o", exe, "--report",
                       "--json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["warnings"] == []
    assert run_exe(exe) == (b"hi, Wx\n", 5)
    assert run_exe(exe, as_nobody=True) == (b"hi, Wx\n", 5)
    # decoded from the file itself: two PT_LOADs, none both W and X, both
    # mapped from the first file page (W^X costs a program header, not a page)
    rep = json.loads(run_tinyelf("size", exe, "--json").stdout)
    loads = [s for s in rep["segments"] if "perm" in s]
    assert [s["perm"] for s in loads] == ["R-X", "RW-"]
    assert rep["warnings"] == []
    assert all(s["offset"] < 4096 for s in loads)
    assert exe.stat().st_size < 4096
    code, data = loads
    assert data["vaddr"] >= code["vaddr"] + 4096 - code["offset"]   # different pages
    assert data["vaddr"] % 4096 == data["offset"] % 4096


@pytest.mark.parametrize("layout", ONE_HEADER)
def test_wx_with_one_header_layout_is_refused(data_obj, tmp_path, layout):
    out = tmp_path / f"wx_{layout}"
    proc = run_tinyelf("pack", data_obj, "--wx", "--layout", layout, "-o", out)
    assert proc.returncode == 1 and not out.exists()
    assert "at most 1 program header" in proc.stderr


def test_rwx_output_is_reported(data_obj, build_dir):
    exe = build_dir / "rwx"
    proc = run_tinyelf("pack", data_obj, "-o", exe, "--report")
    assert proc.returncode == 0
    assert "warning: segment 0 is both writable and executable" in proc.stdout
    assert run_exe(exe, as_nobody=True) == (b"hi, Wx\n", 5)
    proc = run_tinyelf("size", exe)
    assert "writable and executable" in proc.stdout


def test_wx_without_writable_data_is_one_segment(sample_obj, build_dir):
    exe = build_dir / "wx_hello"
    assert run_tinyelf("pack", sample_obj("hello.c"), "--wx", "-o", exe).returncode == 0
    rep = json.loads(run_tinyelf("size", exe, "--json").stdout)
    assert [s["perm"] for s in rep["segments"]] == ["R-X"]
    assert run_exe(exe, as_nobody=True) == (b"Hello, world!\n", 0)
