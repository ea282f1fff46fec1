"""Run programs on real Linux kernels booted under qemu (TCG), as root and as nobody.

    from vm.harness import run_in_vm, available
    res = run_in_vm("aarch64", [("hello", exe_bytes, ["arg1"], b"stdin")])
    res["hello"]["root"]    # (stdout bytes, exit status)
    res["hello"]["nobody"]  # the same, run as uid/gid 65534

One call is one boot: the programs, a static busybox and an /init script go into a newc cpio
initramfs (nothing else: no modules, no disk); the kernel's console is the serial port, which
qemu's -nographic sends to its stdout. /init runs each program twice, as root and as nobody
(busybox su), each under a 10 s kill timer, prints its stdout in base64 between markers, and
powers the machine off. Exit statuses are the shell's: N for exit(N), 128+S for death by
signal S (so 139 is SIGSEGV; an execve that fails after its point of no return ends that way).

Guest kernels and busyboxes come from `bash tests/deps/install.sh`, into
$TINYELF_VM_CACHE (default ~/.cache/tinyelf-vm)/<arch>/{vmlinuz,busybox}.
"""
from __future__ import annotations

import base64
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARCHES = ("x86_64", "aarch64", "riscv64")
INSTALL_HINT = "run `bash tests/deps/install.sh`"

_QEMU = {
    # arch: (qemu binary, machine arguments, kernel command line)
    "x86_64": ("qemu-system-x86_64", ["-M", "pc", "-cpu", "max"],
               "console=ttyS0 tsc=reliable no_timer_check"),
    "aarch64": ("qemu-system-aarch64", ["-M", "virt", "-cpu", "max,pauth-impdef=on"],
                "console=ttyAMA0"),
    "riscv64": ("qemu-system-riscv64", ["-M", "virt", "-bios", "default"], "console=ttyS0"),
}
# for every guest: no crypto self-tests (about 1 s of CPU under TCG; tsc=reliable and
# no_timer_check save x86-64 another 0.5 s), no reboot on panic, quiet console
_CMDLINE = "panic=-1 quiet loglevel=3 mitigations=off cryptomgr.notests"

NOBODY_UID = 65534
PROGRAM_TIMEOUT = 10  # seconds each program may run inside the guest before SIGKILL


class VMError(RuntimeError):
    """The VM did not come up, or did not finish running the programs."""


class VMResult(dict):
    """{name: {"root": (stdout, status), "nobody": (stdout, status)}} with facts about the guest."""
    kernel: str = ""          # the guest's `uname -r`
    mmap_min_addr: int = 0    # the guest's /proc/sys/vm/mmap_min_addr
    seconds: float = 0.0      # wall time of the whole boot, run and power-off
    cpu_seconds: float = 0.0  # CPU time qemu used for it (the wall time grows on a busy machine)
    console: str = ""         # everything the guest printed on its console


def cache_dir() -> Path:
    return Path(os.environ.get("TINYELF_VM_CACHE") or Path.home() / ".cache" / "tinyelf-vm")


def available(arch: str) -> str | None:
    """None if `run_in_vm(arch, ...)` can run here, else the reason it cannot."""
    if arch not in _QEMU:
        return f"no VM for architecture {arch!r} (known: {', '.join(ARCHES)})"
    qemu = _QEMU[arch][0]
    if shutil.which(qemu) is None:
        return f"{qemu} is not installed: {INSTALL_HINT}"
    d = cache_dir() / arch
    for f in ("vmlinuz", "busybox"):
        if not (d / f).is_file():
            return f"the {arch} guest kernel/busybox is not fetched ({d / f} missing): {INSTALL_HINT}"
    return None


# ---- initramfs -------------------------------------------------------------------------------

def _newc(entries) -> bytes:
    """A newc cpio archive of (name, mode, data, rdev) entries; rdev (major, minor) for devices."""
    out = bytearray()

    def pad():
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data, rdev) in enumerate(list(entries) + [("TRAILER!!!", 0, b"", (0, 0))], 1):
        bname = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(bname), 0)
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + bname
        pad()
        out += data
        pad()
    return bytes(out)


def _init_script(programs) -> str:
    lines = [
        "#!/bin/busybox sh",
        "B=/bin/busybox",
        "$B mount -t proc proc /proc",
        "$B mount -t devtmpfs dev /dev 2>/dev/null",
        "$B dmesg -n 1",  # keep kernel messages (segfault reports...) off the console
        'echo "@@TE BOOT $($B uname -r) $($B cat /proc/sys/vm/mmap_min_addr)"',
        "run() {",
        "    i=$1; who=$2; shift 2",
        '    cd /tmp',
        '    if [ "$who" = root ]; then',
        f'        $B timeout -s KILL {PROGRAM_TIMEOUT} "$@" </t/$i/in >/tmp/out 2>/dev/null',
        "    else",
        # su execs the shell, which execs the program: the status is the program's own
        f'        $B timeout -s KILL {PROGRAM_TIMEOUT} $B su -s /bin/sh nobody -c \'exec "$0" "$@"\' "$@" </t/$i/in >/tmp/out 2>/dev/null',
        "    fi",
        "    s=$?",
        '    echo "@@TE OUT $i $who $s"',
        "    $B base64 /tmp/out",
        '    echo "@@TE END"',
        "}",
    ]
    for i, (_name, _exe, argv, _stdin) in enumerate(programs):
        args = " ".join(shlex.quote(str(a)) for a in [f"/t/{i}/exe", *argv])
        lines.append(f"run {i} root {args}")
        lines.append(f"run {i} nobody {args}")
    lines += ['echo "@@TE DONE"', "$B poweroff -f", "$B sleep 10"]
    return "\n".join(lines) + "\n"


def build_initramfs(arch: str, programs) -> bytes:
    """The cpio (newc) initramfs that runs `programs` (see run_in_vm) on the `arch` guest."""
    busybox = (cache_dir() / arch / "busybox").read_bytes()
    d, f, x = 0o040755, 0o100644, 0o100755
    entries = [
        ("bin", d, b"", (0, 0)), ("bin/busybox", x, busybox, (0, 0)),
        ("bin/sh", 0o120777, b"busybox", (0, 0)),
        ("dev", d, b"", (0, 0)), ("dev/console", 0o020600, b"", (5, 1)),
        ("dev/null", 0o020666, b"", (1, 3)),
        ("etc", d, b"", (0, 0)),
        ("etc/passwd", f, b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
         (0, 0)),
        ("etc/group", f, b"root:x:0:\nnogroup:x:65534:\n", (0, 0)),
        ("proc", d, b"", (0, 0)), ("sys", d, b"", (0, 0)), ("tmp", 0o041777, b"", (0, 0)),
        ("init", x, _init_script(programs).encode(), (0, 0)),
        ("t", d, b"", (0, 0)),
    ]
    for i, (_name, exe, _argv, stdin) in enumerate(programs):
        if not isinstance(exe, (bytes, bytearray)):
            exe = Path(exe).read_bytes()
        entries += [(f"t/{i}", d, b"", (0, 0)), (f"t/{i}/exe", x, bytes(exe), (0, 0)),
                    (f"t/{i}/in", f, bytes(stdin or b""), (0, 0))]
    return _newc(entries)


# ---- running ---------------------------------------------------------------------------------

def _pvh_vmlinux(bzimage: Path) -> Path | None:
    """The uncompressed ELF vmlinux inside an x86 bzImage, cached beside it, if it has a PVH entry.

    qemu boots such an ELF directly (PVH); decompressing the xz bzImage under TCG costs the
    x86-64 guest about 7 s of its 12 s boot.
    """
    import lzma
    out = bzimage.with_name("vmlinux")
    if out.is_file() and out.stat().st_mtime >= bzimage.stat().st_mtime:
        return out
    data = bzimage.read_bytes()
    start = data.find(b"\xfd7zXZ\x00")
    if start < 0:
        return None
    try:
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
    except lzma.LZMAError:
        return None
    # XEN_ELFNOTE_PHYS32_ENTRY (18) in a "Xen" note: the PVH entry point qemu needs
    if elf[:4] != b"\x7fELF" or not _has_pvh_note(elf):
        return None
    tmp = out.with_name(f"vmlinux.{os.getpid()}.tmp")
    tmp.write_bytes(elf)
    os.replace(tmp, out)
    return out


def _has_pvh_note(elf: bytes) -> bool:
    import struct
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for k in range(phnum):
        p_type, _flags, off, _va, _pa, filesz = struct.unpack_from("<IIQQQQ", elf, phoff + k * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        pos, end = off, off + filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz]
            if name == b"Xen\0" and ntype == 18:
                return True
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def kernel_image(arch: str) -> Path:
    """The kernel file qemu boots for `arch` (for x86-64 the bzImage's vmlinux when it can)."""
    kernel = cache_dir() / arch / "vmlinuz"
    if arch == "x86_64":
        return _pvh_vmlinux(kernel) or kernel
    return kernel


def qemu_command(arch: str, initrd: Path, memory: str = "512M", append: str = "") -> list[str]:
    qemu, machine, cmdline = _QEMU[arch]
    kernel = kernel_image(arch)
    cmdline = f"{cmdline} {_CMDLINE} {append}".strip()
    return [qemu, *machine, "-accel", "tcg", "-m", memory, "-smp", "1", "-nographic",
            "-no-reboot", "-nic", "none", "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", cmdline]


_LINE = re.compile(r"@@TE (BOOT|OUT|END|DONE)\b ?(.*)")


def _parse(console: str, programs, result: VMResult) -> bool:
    """Fill result from the console text; True when the guest got through every program."""
    cur = None
    chunks: list[str] = []
    done = False
    for raw in console.splitlines():
        line = raw.strip("\r\n ")
        m = _LINE.search(line)
        if not m:
            if cur is not None and line:
                chunks.append(line)
            continue
        kind, rest = m.groups()
        if kind == "BOOT":
            parts = rest.split()
            result.kernel = parts[0] if parts else ""
            result.mmap_min_addr = int(parts[1]) if len(parts) > 1 else 0
        elif kind == "OUT":
            i, who, status = rest.split()
            cur = (int(i), who, int(status))
            chunks = []
        elif kind == "END" and cur is not None:
            i, who, status = cur
            data = base64.b64decode("".join(chunks)) if chunks else b""
            result.setdefault(programs[i][0], {})[who] = (data, status)
            cur = None
        elif kind == "DONE":
            done = True
    return done


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_in_vm(arch: str, programs, *, timeout: float | None = None, memory: str = "512M",
              append: str = "") -> VMResult:
    """Boot the `arch` guest once and run every program in it, as root and as nobody.

    programs: a list of (name, exe, argv, stdin): exe the executable's bytes or a path to it,
    argv the arguments after argv[0] (argv[0] is the program's path in the guest), stdin bytes.
    Returns {name: {"root": (stdout, status), "nobody": (stdout, status)}} as a VMResult, which
    also tells the guest's kernel release, mmap_min_addr, the wall time and the console text.
    Raises VMError (with the tail of the console) if the guest does not come up or finish.
    """
    reason = available(arch)
    if reason:
        raise VMError(reason)
    programs = list(programs)
    names = [p[0] for p in programs]
    if len(set(names)) != len(names):
        raise ValueError("program names must be unique")
    if timeout is None:
        timeout = 120 + 2 * PROGRAM_TIMEOUT * len(programs)
    result = VMResult()
    with tempfile.TemporaryDirectory(prefix="tinyelf-vm-") as tmp:
        initrd = Path(tmp) / "initrd.cpio"
        initrd.write_bytes(build_initramfs(arch, programs))
        cmd = qemu_command(arch, initrd, memory, append)
        start = time.monotonic()
        cpu = _children_cpu()
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=timeout)
            console, why = proc.stdout, f"qemu exited with status {proc.returncode}"
        except subprocess.TimeoutExpired as e:
            console, why = e.stdout or b"", f"timed out after {timeout:.0f} s"
        result.seconds = time.monotonic() - start
        result.cpu_seconds = _children_cpu() - cpu
    result.console = console.decode("utf-8", "replace")
    done = _parse(result.console, programs, result)
    if not done or len(result) != len(programs):
        if not result.kernel:
            what = "the guest did not come up"
        else:
            what = f"the guest stopped after {len(result)} of {len(programs)} programs"
        tail = "\n".join(result.console.splitlines()[-40:])
        raise VMError(f"{arch}: {what} ({why}); console tail:\n{tail}\n(command: {shlex.join(cmd)})")
    return result


def main(argv=None) -> int:
    """python tests/vm/harness.py ARCH EXE [ARG...]: run one program in the guest."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    arch, exe, *args = argv
    res = run_in_vm(arch, [(Path(exe).name, exe, args, b"")])
    print(f"# {arch} kernel {res.kernel}, mmap_min_addr {res.mmap_min_addr}, "
          f"{res.seconds:.1f} s ({res.cpu_seconds:.1f} s CPU)")
    for who, (out, status) in res[Path(exe).name].items():
        print(f"{who}: status {status}, stdout {out!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
