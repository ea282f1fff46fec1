"""Hash every output tinyelf makes, to prove a restructuring changed nothing.

    python tests/hash_outputs.py OBJDIR [PACK OPTION...] > hashes.txt

Compiles the samples and the differential corpus into OBJDIR once (a later
run reuses the objects there, so a before/after comparison never depends on
the compilers being deterministic), then links every sample with every
``--layout`` (with and without ``--wx``) and every corpus variant with the
defaults, through ``python -m tinyelf pack``, and prints one line per output:
``NAME SHA256 SIZE`` or ``NAME error: FIRST LINE``.  Compare two runs with
``diff``.  Options after OBJDIR go to every ``pack`` (``--every-byte``: prove
that the option gives the bytes of a tinyelf from before the hot-code rule).
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(HERE, "corpus")]


def _layouts():
    from tinyelf import arch                      # the registry: every layout there is
    from tinyelf.linker.layouts import for_arch
    return ("auto",) + tuple(l.name for l in for_arch(arch.host()))


LAYOUTS = _layouts()
SAMPLES = ("hello.rs", "exit.rs", "hello.c", "main.c", "prodfactors.rs", "echo.rs",
           "rot13.rs", "wc.c", "hello.asm")
#: position-independent builds too: they reach the layouts that load above 4 GiB
PIC = {".rs": ("-C", "relocation-model=pie"), ".c": ("-fPIE",)}


def _sample_inputs(objdir):
    from tinyelf.tools import toolchain
    out = {}
    rlibs = None
    for name in SAMPLES:
        src = os.path.join(ROOT, "samples", name)
        if name.endswith(".asm"):
            out[name] = [src]
            continue
        for pic in (False, True):
            ext = os.path.splitext(name)[1]
            obj = os.path.join(objdir, "samples", name + ("-pic" if pic else "") + ".o")
            if not os.path.exists(obj):
                os.makedirs(os.path.dirname(obj), exist_ok=True)
                toolchain.compile_source(src, obj, PIC[ext] if pic else ())
            inputs = [obj]
            if name.endswith(".rs"):
                rlibs = rlibs or toolchain.rust_core_rlibs()
                inputs += rlibs
            out[name + ("-pic" if pic else "")] = inputs
    return out


def _corpus_inputs(objdir):
    import corpus
    out = {}
    for v in corpus.VARIANTS:
        if v.reject:
            continue
        manifest = os.path.join(objdir, "corpus", v.name, "inputs.txt")
        if os.path.exists(manifest):        # compiled by an earlier run: reuse
            with open(manifest) as f:
                out[v.name] = f.read().split()
            continue
        try:
            objs, archives = corpus.build_objects(v, os.path.join(objdir, "corpus", v.name),
                                                  os.path.join(objdir, "corpus", "_support"))
        except RuntimeError:
            continue
        out[v.name] = list(objs) + list(archives)
        with open(manifest, "w") as f:
            f.write("\n".join(out[v.name]))
    return out


def _link(job):
    name, inputs, extra, outdir = job
    out = os.path.join(outdir, name.replace("/", "_"))
    proc = subprocess.run([sys.executable, "-m", "tinyelf", "pack", *inputs, "-o", out, *extra],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["?"])[0]
        first = first.replace(os.path.dirname(inputs[0]), "DIR")
        return f"{name} error: {first}"
    with open(out, "rb") as f:
        data = f.read()
    return f"{name} {hashlib.sha256(data).hexdigest()} {len(data)}"


def jobs(objdir, outdir, options=()):
    for name, inputs in _sample_inputs(objdir).items():
        for layout in LAYOUTS:
            for wx in (False, True):
                extra = ["--layout", layout] + (["--wx"] if wx else []) + list(options)
                yield (f"{name}/{layout}{'/wx' if wx else ''}", inputs, extra, outdir)
    for name, inputs in _corpus_inputs(objdir).items():
        yield (f"corpus/{name}", inputs, list(options), outdir)


def main(argv):
    objdir = os.path.abspath(argv[0]) if argv else os.path.join(ROOT, ".hash-objs")
    outdir = os.path.join(objdir, "out")
    os.makedirs(outdir, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor((os.cpu_count() or 2) + 1) as ex:
        for line in sorted(ex.map(_link, list(jobs(objdir, outdir, argv[1:])))):
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
