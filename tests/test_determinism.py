"""Determinism: the same inputs give the same bytes, whatever their order or
paths, wherever the order cannot change what the program means.

tinyelf places objects in a canonical order (collect.object_key: a digest of
what each object contributes, not its name or position).  Where the order
does change the meaning -- two weak definitions of one name, COMDAT copies
that differ -- the first one wins, as in GNU ld; those cases are compared
with GNU ld in both orders instead.
"""
from __future__ import annotations

import itertools
import shutil
import subprocess

import pytest

from asmutil import assemble, requires_as
from conftest import requires_ld, run_exe, run_tinyelf
from tinyelf import link
from tinyelf.tools import toolchain

SYS = r"""
static inline long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
"""
SOURCES = {
    "a.c": SYS + r"""
int b_twice(int); int c_sum(const int *, int);
extern const char c_msg[]; extern int c_len;
int a_data[3] = {1, 2, 3};
static char a_buf[256];
void _start(void) {
    for (int i = 0; i < c_len; i++) a_buf[i] = c_msg[i];
    sys3(1, 1, (long)a_buf, c_len);
    sys3(60, b_twice(c_sum(a_data, 3)), 0, 0);
}
""",
    "b.c": r"""
extern int a_data[];
int b_scale = 3;
int b_twice(int x) { return 2 * x + b_scale * a_data[0]; }
""",
    "c.c": r"""
const char c_msg[] = "order does not matter\n";
int c_len = sizeof c_msg - 1;
int c_sum(const int *v, int n) { int s = 0; for (int i = 0; i < n; i++) s += v[i]; return s; }
""",
}
EXPECT = (b"order does not matter\n", 2 * 6 + 3 * 1)


@pytest.fixture(scope="module", params=[(), ("-ffunction-sections", "-fdata-sections", "-fPIC")],
                ids=["plain", "sections-pic"])
def objects(request, tmp_path_factory):
    d = tmp_path_factory.mktemp("det")
    objs = []
    for name, src in SOURCES.items():
        (d / name).write_text(src)
        objs.append(toolchain.compile_c(d / name, d / name.replace(".c", ".o"),
                                        extra=("-O2", "-fno-builtin", *request.param)))
    return d, objs


def test_two_runs_identical(objects, tmp_path):
    _d, objs = objects
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        assert run_tinyelf("pack", *objs, "-o", out).returncode == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert run_exe(tmp_path / "run0") == EXPECT


def test_every_order_identical_bytes(objects, tmp_path):
    _d, objs = objects
    results = {perm: link(list(perm)) for perm in itertools.permutations(objs)}
    assert len(set(results.values())) == 1, "output depends on the input order"
    exe = tmp_path / "prog"
    exe.write_bytes(next(iter(results.values())))
    exe.chmod(0o755)
    assert run_exe(exe, as_nobody=True) == EXPECT


def test_paths_do_not_matter(objects, tmp_path):
    _d, objs = objects
    copies = []
    for i, o in enumerate(objs):
        c = tmp_path / f"renamed_{len(objs) - i}.o"
        shutil.copy(o, c)
        copies.append(c)
    assert link(copies[::-1]) == link(objs)
    assert link([("x.o", open(o, "rb").read()) for o in objs]) == link(objs)


def _ld(objs, out):
    toolchain.ld_baseline(objs, out)
    return run_exe(out)


@requires_ld
@requires_as
def test_weak_definitions_first_wins_like_ld(tmp_path):
    """Two weak definitions of one name: the order changes the meaning, and
    tinyelf makes the same choice as GNU ld in both orders."""
    main = assemble(".globl _start\n.text\n_start: call pick\n mov %eax, %edi\n mov $60, %eax\n"
                    " syscall\n", tmp_path / "main.o")
    w1 = assemble(".weak pick\n.text\npick: mov $11, %eax\n ret\n", tmp_path / "w1.o")
    w2 = assemble(".weak pick\n.text\npick: mov $22, %eax\n ret\n", tmp_path / "w2.o")
    for order, want in (([main, w1, w2], 11), ([main, w2, w1], 22)):
        exe = tmp_path / "t"
        assert run_tinyelf("pack", *order, "-o", exe).returncode == 0
        assert run_exe(exe) == (b"", want) == _ld(order, tmp_path / "l")


@requires_ld
@requires_as
def test_differing_comdat_copies_first_wins_like_ld(tmp_path):
    src = (".globl _start\n.section .text._start,\"ax\",@progbits\n_start: call f\n"
           " mov %eax, %edi\n mov $60, %eax\n syscall\n"
           ".section .text.f,\"axG\",@progbits,f,comdat\n.globl f\nf: mov ${v}, %eax\n ret\n")
    c1 = assemble(src.format(v=5), tmp_path / "c1.o")
    c2 = assemble(".section .text.f,\"axG\",@progbits,f,comdat\n.globl f\nf: mov $6, %eax\n ret\n",
                  tmp_path / "c2.o")
    for order, want in (([c1, c2], 5), ([c2, c1], 6)):
        exe = tmp_path / "t"
        assert run_tinyelf("pack", *order, "-o", exe).returncode == 0
        assert run_exe(exe) == (b"", want) == _ld(order, tmp_path / "l")


def test_archive_members_same_bytes_as_objects(objects, tmp_path):
    """Objects pulled from an archive are placed like the same objects given
    directly, and the archive's position on the command line does not matter."""
    _d, objs = objects
    a, rest = objs[0], objs[1:]
    lib = tmp_path / "librest.a"
    subprocess.run(["ar", "rcs", str(lib), *map(str, rest)], check=True)
    direct = link(objs)
    assert link([a, lib]) == direct
    assert link([lib, a]) == direct
