"""The size passes spare hot code (tinyelf/linker/hot.py, issue 16): a program
compiled for speed keeps its loops aligned and unsplit; a program compiled
for size, a tiny one, and any under --every-byte get every byte.  Every
output runs and must print and exit as GNU ld's link of the same objects."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess

import pytest

from conftest import ROOT, requires_ld, requires_rustc, run_exe, run_tinyelf
from tinyelf.linker import hot as hotmod
from tinyelf.linker.driver import run
from tinyelf.linker.model import LinkOptions

_spec = importlib.util.spec_from_file_location("runtime_bench", ROOT / "benches" / "runtime.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

HEAD = r"""
static long sys3(long n, long a, long b, long c)
{ long r; __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c)
                            : "rcx", "r11", "memory"); return r; }
__attribute__((noinline)) unsigned sum(const unsigned char *p, int n)
{ unsigned s = 0; for (int i = 0; i < n; i++) s = s * 31 + p[i]; return s; }
__attribute__((noinline)) int odd(int x) { return x * 3 + 1; }
__attribute__((noinline)) unsigned mix(unsigned x, int n)
{ for (int i = 0; i < n; i++) x = (x ^ (x >> 7)) * 0x9E3779B1u + odd(i); return x; }
static const unsigned tab[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
"""
def _loops(n: int) -> str:
    """``n`` small functions, each holding one loop."""
    return "".join(
        f"__attribute__((noinline)) unsigned f{k}(const unsigned *a, int n)\n"
        f"{{ unsigned s = {k}; for (int i = 0; i < n; i++) {{ s += a[i] * {2 * k + 3}u;\n"
        f"  if (s & {1 << k}) s ^= a[(i * {k + 5}) % n]; else s = (s >> 3) | (s << 29); }}\n"
        f"  return s; }}\n" for k in range(n))
START = r"""
static const char msg[] = "loop: ok\n";
void _start(void)
{
    unsigned h = sum((const unsigned char *)msg, 9) + mix(7, 1000) CALLS;
    sys3(1, 1, (long)msg, 9);
    sys3(60, h & 0x7f, 0, 0);
    __builtin_unreachable();
}
"""
#: -O2 with one section per function: what a user who wants speed compiles
O2 = ("-c", "-O2", "-fno-pie", "-ffreestanding", "-fno-stack-protector",
      "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-ffunction-sections",
      "-fdata-sections")


def _program(tmp, name, big: bool, flags=O2, n=6):
    src = tmp / f"{name}.c"
    calls = "".join(f" + f{k}(tab, 16)" for k in range(n)) if big else " + tab[3]"
    src.write_text(HEAD + (_loops(n) if big else "") + START.replace("CALLS", calls))
    obj = tmp / f"{name}.o"
    subprocess.run(["gcc", *flags, "-o", str(obj), str(src)], check=True)
    return obj


@pytest.fixture(scope="module")
def speed_obj(tmp_path_factory):
    return _program(tmp_path_factory.mktemp("hot"), "speed", big=True)


def _ld_run(objs, out):
    bench.link("ld", [str(o) for o in objs], out)
    return run_exe(out)


def _write(lk, path):
    path.write_bytes(lk.output)
    path.chmod(0o755)
    return path


@requires_ld
def test_loops_keep_their_alignment(speed_obj, build_dir):
    want = _ld_run([speed_obj], build_dir / "hot_ld")
    lk = run([speed_obj], LinkOptions())
    assert lk.hot.speed
    loops = {s.name for s in lk.hot.aligned}
    assert {".text.sum", ".text.mix"} | {f".text.f{k}" for k in range(6)} <= loops
    assert ".text.odd" not in loops and ".text._start" not in loops   # no loop in them
    for sec in lk.hot.aligned:
        assert sec.addr % sec.align == 0, sec.name
    assert run_exe(_write(lk, build_dir / "hot_default"), as_nobody=True) == want
    # --every-byte packs them: smaller, some loop off its alignment, same behaviour
    eb = run([speed_obj], LinkOptions(every_byte=True))
    assert not eb.hot.aligned and len(eb.output) < len(lk.output)
    assert any(s.addr % s.align for s in eb.kept if s.name in loops)
    assert run_exe(_write(eb, build_dir / "hot_every"), as_nobody=True) == want


@requires_ld
def test_code_in_loops_is_never_split(speed_obj, build_dir):
    lk = run([speed_obj], LinkOptions())
    no_split = {s.name for s in lk.hot.no_split}
    assert ".text.odd" in no_split          # no loop of its own, but called in mix's
    assert not any(s.pieces for s in lk.hot.no_split)
    assert "never split" in lk.squeezed["split_code"]
    eb = run([speed_obj], LinkOptions(every_byte=True))
    split = [s.name for s in eb.kept if s.pieces]
    assert split and set(split) & no_split, split      # what the rule spares
    want = _ld_run([speed_obj], build_dir / "split_ld")
    assert run_exe(_write(eb, build_dir / "split_every")) == want


@requires_ld
def test_tiny_program_gets_every_byte(tmp_path):
    obj = _program(tmp_path, "tiny", big=False)
    lk = run([obj], LinkOptions())
    assert not lk.hot.speed and "tiny" in lk.hot.why
    assert lk.output == run([obj], LinkOptions(every_byte=True)).output
    assert run_exe(_write(lk, tmp_path / "tiny")) == _ld_run([obj], tmp_path / "tiny_ld")


@pytest.mark.parametrize("name", ["speed.c at -Os", "prodfactors.rs"])
def test_program_compiled_for_size_gets_every_byte(sample_obj, tmp_path, name):
    if name.endswith(".rs") and shutil.which("rustc") is None:
        pytest.skip("rustc not installed")
    from tinyelf.tools import toolchain
    if name.endswith(".rs"):     # libcore's loops are aligned (-O3), the program's own are not
        inputs = [sample_obj(name), *toolchain.rust_core_rlibs()]
    else:
        inputs = [_program(tmp_path, "size", big=True, n=12,
                           flags=tuple("-Os" if f == "-O2" else f for f in O2))]
    lk = run(inputs, LinkOptions())
    assert not lk.hot.speed and "compiled for size" in lk.hot.why
    assert lk.output == run(inputs, LinkOptions(every_byte=True)).output


def test_every_byte_is_the_rule_switched_off(speed_obj, monkeypatch):
    """--every-byte changes nothing but the rule: it links as if no code were hot."""
    eb = run([speed_obj], LinkOptions(every_byte=True)).output
    monkeypatch.setattr(hotmod, "decide", lambda link: hotmod.HotCode(why="patched"))
    assert run([speed_obj], LinkOptions()).output == eb


def test_every_byte_option_and_report(speed_obj, tmp_path):
    out = run_tinyelf("pack", speed_obj, "-o", tmp_path / "a", "--report")
    assert out.returncode == 0, out.stderr
    assert "kept aligned" in out.stdout and "holds a loop" in out.stdout
    out = run_tinyelf("pack", speed_obj, "-o", tmp_path / "b", "--every-byte", "--report")
    assert out.returncode == 0, out.stderr
    assert "kept aligned" not in out.stdout and "[--every-byte]" in out.stdout
    assert (tmp_path / "b").read_bytes() == run([speed_obj], LinkOptions(every_byte=True)).output
    from tinyelf.tools import ld_driver
    assert ld_driver.parse(["--every-byte", "-o", "x", str(speed_obj)]).options.every_byte


def test_undecodable_code_counts_as_a_loop():
    class Sec:
        is_nobits, size, data, relocs = False, 3, b"\x0f\xff\xff", ()

    class NoDecoder:
        relocs = {}

        def decode_insns(self, data):
            return None

        def capstone_insns(self, data):
            return None
    assert hotmod.loops(Sec(), NoDecoder()) is None


# ---- the run-time benchmark's programs: each output behaves like GNU ld's

FAST = {"lists": ("-DLISTS_ROUNDS=20",), "matrix": ("-DMATRIX_ROUNDS=4",),
        "fsm": ("-DFSM_ROUNDS=6",), "sort": ("-DSORT_ROUNDS=2",),
        "mix": ("-DLISTS_ROUNDS=5", "-DMATRIX_ROUNDS=2", "-DFSM_ROUNDS=2", "-DSORT_ROUNDS=1")}


@requires_ld
@pytest.mark.parametrize("name", list(bench.PROGRAMS))
def test_benchmark_programs_run_like_gnu_ld(name, build_dir, monkeypatch):
    if bench.PROGRAMS[name].endswith(".rs") and shutil.which("rustc") is None:
        pytest.skip("rustc not installed")
    if name in FAST:          # a few rounds: same code, shorter run
        monkeypatch.setattr(bench, "CC_FLAGS", bench.CC_FLAGS + FAST[name])
    work = build_dir / f"rt_{name}"
    work.mkdir(exist_ok=True)
    inputs = bench.build(name, work)
    want = None
    for config in ("ld", "tinyelf", "--every-byte"):
        exe = work / f"{name}.{config.strip('-')}"
        bench.link(config, inputs, exe)
        # the Rust programs take an argument as "a short run"
        got = run_exe(exe, "quick", as_nobody=config != "ld", timeout=30)
        want = want or got
        assert got[1] == 0 and got[0].startswith(f"{name}: ".encode()), (config, got)
        assert got == want, config
