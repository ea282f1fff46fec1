#!/usr/bin/env python3
"""The size table: each sample built every way a user might pick, side by side.

    python benches/sizes.py                      # markdown table on stdout
    python benches/sizes.py --png sizes.png      # and a bar chart (log scale)
    python benches/sizes.py --update-readme      # rewrite README.md's table and benches/sizes.png

Columns, for each sample in ``samples/`` that has a std twin here:

- std Rust with rustc's defaults (the std twin under ``benches/std/``),
- std Rust minimised (opt-level=z, lto, panic=abort, codegen-units=1, strip),
- the no_std object linked by GNU ld ``-static -nostdlib -n -N -s --gc-sections``,
- the same file cut after its last segment (what ELFkickers' sstrip does),
- the no_std object linked by rust-lld with the same flags,
- ``tinyelf pack --layout strict`` and tinyelf's default.

Every file is run, and must print and exit like GNU ld's build, before its
size is counted.  This is a script rather than a ``tinyelf compare``
subcommand because it needs tools tinyelf itself never needs (std Rust
builds, rust-lld, matplotlib) and describes tinyelf rather than doing its
job; the CLI stays thin and its subcommand list is left to the linker.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402
from tinyelf.tools import toolchain  # noqa: E402

README = benchlib.ROOT / "README.md"
PNG = benchlib.BENCHES / "sizes.png"
BEGIN, END = "<!-- sizes:begin -->", "<!-- sizes:end -->"

#: sample -> (std twin under benches/std, arguments, stdin) to build and run it with
#: (samples/main.c needs a start stub from the linker and hello.asm an
#: assembler front end: they join when tinyelf builds them itself)
SAMPLES = {
    "hello.rs": ("hello.rs", (), b""),
    "exit.rs": ("exit.rs", (), b""),
    "hello.c": ("hello.rs", (), b""),
    "prodfactors.rs": ("prodfactors.rs", ("600851475143", "12"), b""),
    "echo.rs": ("echo.rs", ("a", "b c", "$GREETING", "d"), b""),
    "rot13.rs": ("rot13.rs", (), b"Hello, World! 123\n" * 300),
    "wc.c": ("wc.rs", (), b"one two\nthree  four\tfive\n" * 500),
}
ENV = {"PATH": "/usr/bin:/bin", "GREETING": "hi there"}

RUSTC_STD_MIN = ("-C", "opt-level=z", "-C", "lto", "-C", "panic=abort",
                 "-C", "codegen-units=1", "-C", "strip=symbols")

COLUMNS = (
    ("std", "std Rust, rustc defaults"),
    ("std-min", "std Rust minimised"),
    ("ld", "no_std + GNU ld -n -N -s"),
    ("sstrip", "GNU ld, cut after last segment (sstrip)"),
    ("rust-lld", "no_std + rust-lld"),
    ("strict", "tinyelf --layout strict"),
    ("tinyelf", "tinyelf (default)"),
    ("compressed", "tinyelf --compress"),
    ("dropper", "xz shell dropper of tinyelf's"),
    ("upx", "UPX --best of GNU ld's"),
)
#: UPX's refusals, sample -> its message (the cell says "refused")
REFUSED: dict[str, str] = {}
#: the xz shell dropper (issue 12): these 42 bytes + a newline, then the file as
#: ``xz --format=lzma --lzma1=preset=9e,lc=1,lp=0,pb=0``; it needs bash ($_)
DROPPER = b"cp $0 /tmp/M;(sed 1d $0|xzcat)>$_;$_;exit\n"


def _run(cmd, what):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"sizes.py: {what} failed:\n{proc.stderr.strip()}")


def build_sample(sample: str, work: Path, layout_option: bool) -> dict[str, int]:
    """Build one sample every way; return column -> size in bytes."""
    twin, args, stdin = SAMPLES[sample]
    src = benchlib.SAMPLES / sample
    stem = sample.replace(".", "_")
    d = work / stem
    d.mkdir()
    outs: dict[str, Path] = {}

    # std Rust, as most people would build it, then minimised
    outs["std"] = d / "std"
    _run(["rustc", "--edition", "2021", "-o", str(outs["std"]), str(benchlib.BENCHES / "std" / twin)],
         f"rustc {twin}")
    outs["std-min"] = d / "std-min"
    _run(["rustc", "--edition", "2021", *RUSTC_STD_MIN, "-o", str(outs["std-min"]),
          str(benchlib.BENCHES / "std" / twin)], f"rustc (minimised) {twin}")

    # the no_std object, linked by everyone
    obj = Path(toolchain.compile_source(src, d / f"{stem}.o"))
    if sample.endswith(".rs") and benchlib.undefined_symbols(obj):
        ins = benchlib.rust_link_inputs(obj, d)
        peers, tiny, core = ins["peers"], ins["tinyelf"], True
    else:
        peers = tiny = [str(obj)]
        core = False
    outs["ld"] = d / "ld"
    _run(["ld", *benchlib.LD_FLAGS, "-o", str(outs["ld"]), *peers], "GNU ld")
    outs["sstrip"] = d / "sstrip"
    benchlib.sstrip_copy(outs["ld"], outs["sstrip"])
    lld = benchlib.rust_lld()
    if lld:
        outs["rust-lld"] = d / "rust-lld"
        _run([lld, "-flavor", "gnu", *benchlib.LD_FLAGS,
              *(benchlib.EH_PERSONALITY if core else []), "-o", str(outs["rust-lld"]), *peers],
             "rust-lld")
    tinyelf = [sys.executable, "-m", "tinyelf", "pack"]
    outs["strict"] = d / "strict"
    _run([*tinyelf, *(["--layout", "strict"] if layout_option else []), "-o",
          str(outs["strict"]), *tiny], "tinyelf pack --layout strict")
    outs["tinyelf"] = d / "tinyelf"
    _run([*tinyelf, "-o", str(outs["tinyelf"]), *tiny], "tinyelf pack")

    outs["compressed"] = d / "compressed"
    _run([*tinyelf, "--compress", "-o", str(outs["compressed"]), *tiny], "tinyelf pack --compress")
    if shutil.which("upx"):     # Debian 12 has no upx-ucl package (11 and 13 have)
        proc = subprocess.run(["upx", "--best", "-q", "-o", str(d / "upx"), str(outs["ld"])],
                              capture_output=True, text=True)
        if proc.returncode == 0:
            outs["upx"] = d / "upx"
        else:
            REFUSED[sample] = (proc.stderr or proc.stdout).strip().splitlines()[-1]

    # every build must behave like GNU ld's
    want = benchlib.run_exe(outs["ld"], *args, stdin=stdin, env=ENV)
    for col, path in outs.items():
        got = benchlib.run_exe(path, *args, stdin=stdin, env=ENV)
        if got != want:
            raise SystemExit(f"sizes.py: {sample}: the {col} build printed/exited {got!r}, "
                             f"GNU ld's build {want!r}")
    dropper = d / "dropper"
    xz = subprocess.run(["xz", "--format=lzma", "--lzma1=preset=9e,lc=1,lp=0,pb=0", "-c",
                         str(outs["tinyelf"])], capture_output=True, check=True).stdout
    dropper.write_bytes(DROPPER + xz)
    dropper.chmod(0o755)
    got = subprocess.run(["bash", str(dropper)], input=stdin, capture_output=True, env=ENV)
    if not args and (got.stdout, got.returncode) != want:    # it passes no arguments on
        raise SystemExit(f"sizes.py: {sample}: the dropper printed/exited "
                         f"{(got.stdout, got.returncode)!r}, GNU ld's build {want!r}")
    outs["dropper"] = dropper
    return {col: path.stat().st_size for col, path in outs.items()}


def _columns():
    """COLUMNS, without UPX's where it is not installed."""
    return [(k, t) for k, t in COLUMNS if k != "upx" or shutil.which("upx")]


def markdown(table: dict[str, dict[str, int]], layout_option: bool) -> str:
    heads = [title for _key, title in _columns()]
    lines = ["| sample | " + " | ".join(heads) + " |",
             "| --- |" + " ---: |" * len(heads)]
    for sample, sizes in table.items():
        best = min(sizes.values())
        cells = []
        for key, _title in _columns():
            v = sizes.get(key)
            cell = "-" if v is None else f"{v:,}"
            if key == "upx" and sample in REFUSED:
                cell = "refused"
            cells.append(f"**{cell}**" if v == best else cell)
        lines.append(f"| `{sample}` | " + " | ".join(cells) + " |")
    said = ["Bytes; the smallest of each row in bold.  Every file was run and behaved "
            "like GNU ld's build."]
    said += [f"UPX refused `{sample}`: {msg}." for sample, msg in REFUSED.items()]
    if not shutil.which("upx"):
        said.append("UPX: not installed here (Debian 12 has no upx-ucl package).")
    notes = ["", "  ".join(said)]     # one line: README.md is capped
    if not layout_option:
        notes.append("`--layout` does not exist yet: the strict column is plain `tinyelf pack`.")
    return "\n".join(lines + notes) + "\n"


def chart(table: dict[str, dict[str, int]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = list(table)
    n = len(_columns())
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(11, 5.5))
    for i, (key, title) in enumerate(_columns()):
        xs = [s + (i - (n - 1) / 2) * width for s in range(len(samples))]
        ys = [table[s].get(key, 0) for s in samples]
        bars = ax.bar(xs, ys, width, label=title)
        for bar, y in zip(bars, ys):
            if y:
                ax.annotate(f"{y:,}", (bar.get_x() + bar.get_width() / 2, y), ha="center",
                            va="bottom", fontsize=6, rotation=90, xytext=(0, 2),
                            textcoords="offset points")
    ax.set_yscale("log")
    ax.set_ylabel("file size, bytes (log scale)")
    ax.set_xticks(range(len(samples)), samples)
    ax.set_title("The same programs, linked every way (smaller is better)")
    ax.set_ylim(top=max(max(v.values()) for v in table.values()) * 4)
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def update_readme(md: str, readme: Path = README) -> None:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"sizes.py: {readme} has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{md}{END}{tail}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--png", type=Path, help="write the bar chart here")
    ap.add_argument("--update-readme", action="store_true",
                    help=f"rewrite the table in README.md between the markers and {PNG.name}")
    ap.add_argument("--keep", type=Path, help="build in this directory and keep the files")
    args = ap.parse_args(argv)
    layout_option = benchlib.tinyelf_has_layout_option()
    samples = [s for s in SAMPLES if (benchlib.SAMPLES / s).exists()]
    with tempfile.TemporaryDirectory(prefix="tinyelf-sizes-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        table = {s: build_sample(s, work, layout_option) for s in samples}
    md = markdown(table, layout_option)
    sys.stdout.write(md)
    png = args.png or (PNG if args.update_readme else None)
    if png:
        chart(table, png)
    if args.update_readme:
        update_readme(md)
    linkers = {k for k, _t in COLUMNS} - {"compressed", "dropper", "upx"}   # what a linker alone makes
    losers = [s for s, sizes in table.items()
              if sizes["tinyelf"] > min(v for k, v in sizes.items() if k in linkers)]
    if losers:
        print(f"\nnot the smallest column: tinyelf's default for {', '.join(losers)}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
