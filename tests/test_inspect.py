"""tinyelf inspect / dis on every sample's output, on overlapped and short
headers, on ordinary executables; --json; --html rendered in Chromium."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import SAMPLES, layout_specs, requires_ld, requires_rustc, run_exe, run_tinyelf

# every sample: (source, entry symbol, expected run result)
OUTPUTS = [
    pytest.param("hello.rs", "_start", (b"Hello, world!\n", 0), marks=requires_rustc, id="hello.rs"),
    pytest.param("exit.rs", "_start", (b"", 42), marks=requires_rustc, id="exit.rs"),
    pytest.param("hello.c", "_start", (b"Hello, world!\n", 0), id="hello.c"),
    pytest.param("main.c", "main", (b"0\n", 3), id="main.c"),
    pytest.param("wc.c", "_start", (b"0 0 0\n", 0), id="wc.c"),
    pytest.param("hello.asm", "_start", (b"Hello from asm!\n", 0), id="hello.asm"),
]


@pytest.fixture(scope="module")
def packed(build_dir, sample_obj):
    cache = {}

    def get(source):
        if source not in cache:
            src = SAMPLES / source
            inp = src if source.endswith(".asm") else sample_obj(source)
            exe = build_dir / ("insp_" + source.replace(".", "_"))
            proc = run_tinyelf("pack", inp, "-o", exe, "--map", f"{exe}.map")
            assert proc.returncode == 0, proc.stderr
            cache[source] = exe
        return cache[source]
    return get


@pytest.mark.parametrize("source,entry,result", OUTPUTS)
def test_inspect_every_sample_output(packed, source, entry, result):
    exe = packed(source)
    assert run_exe(exe) == result
    proc = run_tinyelf("inspect", exe)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    out = proc.stdout
    assert "\x1b[" not in out                          # piped: plain text
    for word in ("e_entry", "e_phoff", "p_type", "PT_LOAD", "Hex dump", "Disassembly"):
        assert word in out
    assert f"<{entry}>" in out                          # named from OUT.map
    size = exe.stat().st_size
    assert f"{size} bytes" in out.splitlines()[0]


@pytest.mark.parametrize("source,entry,result", OUTPUTS)
def test_dis_every_sample_output(packed, source, entry, result):
    import capstone
    exe = packed(source)
    proc = run_tinyelf("dis", exe)
    assert proc.returncode == 0, proc.stderr
    assert f"<{entry}>:" in proc.stdout
    # the first instruction of the entry is what capstone decodes at e_entry
    data = exe.read_bytes()
    e_entry = struct.unpack_from("<Q", data, 24)[0]
    off = json.loads(run_tinyelf("inspect", "--json", exe).stdout)["entry_offset"]
    ins = next(capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64).disasm(data[off:off + 16], e_entry))
    line = next(l for l in proc.stdout.splitlines() if l.strip().startswith(f"{e_entry:x}:"))
    assert ins.mnemonic in line


def test_dis_without_map_traces_code_from_the_entry(sample_obj, build_dir):
    exe = build_dir / "nomap_hello_c"
    assert run_tinyelf("pack", sample_obj("hello.c"), "-o", exe).returncode == 0
    rep = json.loads(run_tinyelf("inspect", "--json", exe).stdout)
    assert rep["origins_basis"].startswith("code traced")
    mnems = [i["mnemonic"] for i in rep["disassembly"]]
    assert mnems.count("syscall") == 2
    # the string is data (perhaps inside header fields), never code
    data = exe.read_bytes()
    at = data.index(b"Hello, world!")
    for o in range(at, at + 13):
        r = next(r for r in rep["regions"] if r["start"] <= o < r["end"])
        assert r["origin"] in ("rodata", "data", "overlap"), r    # one RWX segment: data
        assert not any(w.startswith("code") for w in r["owners"]), r
        if r["origin"] == "overlap":
            assert any(w.startswith(("data", "read-only data")) for w in r["owners"]), r


def _overlapped(path: Path) -> Path:
    """A hand-made exit(42): the program header at 0x38 inside the ELF header
    (e_phnum/e_shentsize are p_type, e_shnum/e_shstrndx are p_flags) and the
    code in e_ident's padding, where the kernel does not look."""
    base = 0x400000
    code = bytes([0x6A, 42, 0x5F, 0x6A, 60, 0x58, 0x0F, 0x05])  # push 42; pop rdi; push 60; pop rax; syscall
    size = 0x38 + 56
    data = bytearray(size)
    data[0:0x38] = struct.pack("<16sHHIQQQIHH", b"\x7fELF\x02\x01\x01\x00" + code, 2, 62, 1,
                               base + 8, 0x38, 0, 0, 64, 56)
    data[0x38:] = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    path.write_bytes(data)
    path.chmod(0o755)
    return path


def test_overlapped_headers_and_code_in_the_header(tmp_path):
    exe = _overlapped(tmp_path / "overlap")
    assert run_exe(exe, as_nobody=True) == (b"", 42)
    rep = json.loads(run_tinyelf("inspect", "--json", exe).stdout)
    assert any("inside the ELF header" in n for n in rep["notes"])
    ph = {r["field"]: r["value"] for r in rep["program_headers"][0]}
    assert ph["p_type"] == 1 and ph["p_flags"] == 5 and ph["p_filesz"] == 112
    shared = {(r["start"], r["end"]): r["owners"] for r in rep["shared"]}
    assert shared[(0x38, 0x3A)] == ["ELF header e_phnum", "program header 0 p_type"]
    assert shared[(0x9, 0x10)] == ["ELF header EI_PAD", "code"]
    assert [i["mnemonic"] for i in rep["disassembly"]] == ["push", "pop", "push", "pop", "syscall"]
    text = run_tinyelf("inspect", exe).stdout
    assert "e_phnum = program header 0 p_type" in text
    assert "<- shared with code" in text


def test_file_shorter_than_the_header_reads_zero_padded(tmp_path, packed):
    short = tmp_path / "short"
    short.write_bytes(packed("hello.asm").read_bytes()[:40])
    proc = run_tinyelf("inspect", "--json", short)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert any("shorter than the ELF header" in n for n in rep["notes"])
    fields = {r["field"]: r for r in rep["elf_header"]}
    assert fields["e_phnum"]["value"] == 0 and fields["e_phnum"]["hex"] == "00 00"
    assert fields["e_entry"]["value"] != 0


def test_ordinary_executables(tmp_path, sample_obj):
    proc = run_tinyelf("inspect", "/bin/true")
    assert proc.returncode == 0, proc.stderr
    assert "PT_INTERP" in proc.stdout and "PT_DYNAMIC" in proc.stdout
    dis = run_tinyelf("dis", "/bin/true")
    assert dis.returncode == 0 and dis.stdout.count("\n") > 100


@requires_ld
def test_gnu_ld_output_uses_its_symbol_table(tmp_path, sample_obj):
    from tinyelf.tools import toolchain
    exe = tmp_path / "ld_hello"
    toolchain._run(["ld", "-static", "-nostdlib", "-o", str(exe), str(sample_obj("hello.c"))], "ld")
    rep = json.loads(run_tinyelf("inspect", "--json", exe).stdout)
    assert any(i["label"] == "_start" for i in rep["disassembly"])
    assert any(s["name"] == ".text" for s in rep["sections"])


def test_colour_on_request_and_bad_input(tmp_path, packed):
    exe = packed("hello.c")
    assert "\x1b[" in run_tinyelf("inspect", "--color", "always", exe).stdout
    bad = tmp_path / "notelf"
    bad.write_text("hello")
    for cmd in ("inspect", "dis"):
        proc = run_tinyelf(cmd, bad)
        assert proc.returncode == 1
        assert proc.stderr.startswith("tinyelf: error: ") and "not an ELF file" in proc.stderr
        assert len(proc.stderr.splitlines()) == 1
    proc = run_tinyelf("inspect", tmp_path / "missing")
    assert proc.returncode == 1 and "missing" in proc.stderr


def test_explicit_symbols_file(packed, build_dir):
    exe = packed("hello.c")
    moved = build_dir / "hello_c_elsewhere.map"
    shutil.copy(f"{exe}.map", moved)
    copy = build_dir / "hello_c_copy"
    shutil.copy(exe, copy)
    assert "<_start>" not in run_tinyelf("dis", copy).stdout
    assert "<_start>" in run_tinyelf("dis", "--map", moved, copy).stdout


# --- HTML in a real browser ---------------------------------------------------

def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1200)
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def chromium():
    path = _chromium()
    if path is None:
        pytest.skip("Chromium is not installed and cannot be installed here "
                    "(needs root and apt-get)")
    return path


def _browser(chromium, *args):
    with tempfile.TemporaryDirectory(prefix="tinyelf-chromium-") as profile:
        return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                               "--disable-quic", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", f"--user-data-dir={profile}", *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=120)


def test_html_renders_in_chromium(chromium, tmp_path):
    exe = _overlapped(tmp_path / "overlap")
    page = tmp_path / "overlap.html"
    proc = run_tinyelf("inspect", exe, "--html", page)
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    text = page.read_text()
    assert "<script src" not in text and "<link" not in text   # self-contained
    dom = _browser(chromium, "--dump-dom", page.as_uri()).stdout
    assert "<h1 id=\"title\">" in dom
    assert dom.count("class=\"b o-overlap\"") == 8 + 8      # code in EI_PAD, shared header fields
    assert dom.count("class=\"b ") == 112
    assert "class=\"insn o-overlap\"" in dom                # the code lives in the header
    assert "id=\"disasm\"" in dom and ">syscall<" in dom
    assert "data-info=\"0x38: ELF header e_phnum; program header 0 p_type\"" in dom
    shot = tmp_path / "overlap.png"
    _browser(chromium, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10000


def test_html_for_a_linked_program_has_every_origin(chromium, packed, tmp_path):
    exe = packed("hello.c")
    page = tmp_path / "hello.html"
    assert run_tinyelf("inspect", exe, "--html", page).returncode == 0
    dom = _browser(chromium, "--dump-dom", page.as_uri()).stdout
    for origin in ("header", "code", "rodata"):
        assert f"class=\"b o-{origin}\"" in dom
    assert "&lt;_start&gt;:" in dom


#: overlapped layouts that take a program with absolute addresses (hello.c is
#: not position-independent) and put its code into header holes
OVERLAPPED = [s.name for s in layout_specs()
              if not s.spec_valid and s.abs32_ok and not s.pic_only]


def test_there_are_overlapped_layouts_to_decode():
    assert OVERLAPPED, "no layout in the registry overlaps the headers any more"


@pytest.mark.parametrize("layout", OVERLAPPED)
def test_squeezed_layouts_decode(sample_obj, build_dir, layout):
    """tinyelf's overlapped layouts: the program header inside the ELF
    header, code and data in header holes.  Every layout exists: a failed
    link (an argparse regression included) is a failure, never a skip."""
    exe = build_dir / f"sq_{layout}"
    proc = run_tinyelf("pack", sample_obj("hello.c"), "-o", exe, "--layout", layout,
                       "--map", f"{exe}.map")
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe) == (b"Hello, world!\n", 0)
    for symbols in (False, True):
        if symbols:
            # without a map: the code is traced from the entry point
            nomap = build_dir / f"sq_{layout}_nomap"
            shutil.copy(exe, nomap)
            target = nomap
        else:
            target = exe
        rep = json.loads(run_tinyelf("inspect", "--json", target).stdout)
        assert any("inside the ELF header" in n for n in rep["notes"])
        shared = [r for r in rep["shared"]]
        assert any(o.startswith("program header 0") for r in shared for o in r["owners"])
        assert any(o.startswith("code") for r in shared for o in r["owners"])
        assert [i["mnemonic"] for i in rep["disassembly"]].count("syscall") == 2


def test_inspect_lief_second_opinion(sample_obj, build_dir):
    """--lief: lief reads tinyelf's strict output the way tinyelf's decode does,
    and names a foreign executable's interpreter and libraries."""
    import json
    out = build_dir / "inspect_lief_strict"
    assert run_tinyelf("pack", sample_obj("hello.c"), "--layout", "strict", "-o", out).returncode == 0
    r = run_tinyelf("inspect", "--lief", "--json", out)
    assert r.returncode == 0, r.stderr
    lines = json.loads(r.stdout)["lief"]
    assert lines[0].startswith("lief ") and "EXEC for X86_64" in lines[0]
    assert "agrees with tinyelf's decode" in lines[1]
    r = run_tinyelf("inspect", "--lief", os.path.realpath(sys.executable))
    assert r.returncode == 0, r.stderr
    tail = r.stdout.split("lief's reading\n", 1)[1]
    assert "agrees with tinyelf's decode" in tail and "interpreter /" in tail
