#!/usr/bin/env bash
# Install what the test suite needs on a Debian 12 machine (run as root), then fetch,
# without installing them, the guest kernels and static busyboxes that tests/vm/harness.py
# boots under qemu. Idempotent and quiet: whatever is already there is skipped, and
# `apt-get update` runs at most once, only when a package is missing.
#
#   bash tests/deps/install.sh
#
# Guest files go to ${TINYELF_VM_CACHE:-~/.cache/tinyelf-vm}/<arch>/{vmlinuz,busybox,kernel.txt}.
# Each foreign architecture is fetched with an apt configuration of its own under
# <cache>/apt/<name>/ (its own sources list, lists and cache): the system's sources, its
# dpkg architectures and its package lists are left alone.
set -euo pipefail

HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
CACHE="${TINYELF_VM_CACHE:-$HOME/.cache/tinyelf-vm}"
MIRROR="${TINYELF_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
export DEBIAN_FRONTEND=noninteractive

say() { echo "install.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }
trap 'say "error: line $LINENO: \"$BASH_COMMAND\" failed"' ERR

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
    command -v sudo >/dev/null || die "not root and no sudo: run as root"
else
    SUDO=
fi

# Other sessions may be running apt on this machine: wait for its locks instead of failing.
APT_LOCK=(-o DPkg::Lock::Timeout=600)

# apt-get update, retried while another apt holds the lists lock.
apt_update() {
    local tries=0
    until $SUDO apt-get "${APT_LOCK[@]}" -qq "$@" update >/dev/null 2>"$CACHE/.apt-update.err"; do
        tries=$((tries + 1))
        if [ "$tries" -ge 30 ] || ! grep -qi 'lock' "$CACHE/.apt-update.err"; then
            cat "$CACHE/.apt-update.err" >&2
            return 1
        fi
        sleep 10
    done
}

mkdir -p "$CACHE"

# ---- 1. host packages ------------------------------------------------------------------
missing=()
need() {  # need PACKAGE CHECK-COMMAND...: PACKAGE is missing unless the check succeeds
    local pkg=$1; shift
    "$@" >/dev/null 2>&1 || missing+=("$pkg")
}
have() { command -v "$1"; }
need gcc-aarch64-linux-gnu  have aarch64-linux-gnu-gcc
need gcc-riscv64-linux-gnu  have riscv64-linux-gnu-gcc
need qemu-user              have qemu-aarch64
need qemu-system-x86        have qemu-system-x86_64
need qemu-system-arm        have qemu-system-aarch64
need qemu-system-misc       have qemu-system-riscv64
need busybox-static         sh -c 'dpkg-query -W -f="\${Status}" busybox-static | grep -q "ok installed"'
need cpio                   have cpio
need binutils               have ld
# --debug-sidecar tests: gdb for i386 (native), gdb-multiarch against qemu-user's gdbstub
need gdb                    have gdb
need gdb-multiarch          have gdb-multiarch
# the LLVM that Debian 12's rustc 1.63 (unpacked in step 3) is linked against
need libllvm14 sh -c 'ldconfig -p | grep -q "libLLVM-14.so.1 "'
# i386: `gcc -m32 -c` and `as --32` + `ld -m elf_i386` need nothing more for freestanding
# code on Debian 12's gcc; gcc-multilib (a 32-bit libc to link against) only if that fails.
need gcc-multilib sh -c 'echo "int f(void) { return 0; }" | gcc -m32 -x c -c -o /dev/null -'

if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_update
    $SUDO apt-get "${APT_LOCK[@]}" -qq install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- 2. guest kernels and busyboxes ------------------------------------------------------
# fetch ARCH DEBARCH SUITE... : kernel + busybox-static of Debian's DEBARCH from SUITE(s)
# into $CACHE/ARCH, using an apt configuration of its own.
fetch() {
    local arch=$1 debarch=$2 suites=$3
    local out="$CACHE/$arch"
    if [ -s "$out/vmlinuz" ] && [ -s "$out/busybox" ]; then
        return 0
    fi
    local aptdir="$CACHE/apt/$debarch-${suites%% *}"
    mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/parts" "$out"
    : >"$aptdir/status"
    local suite
    {
        for suite in $suites; do
            echo "deb [arch=$debarch signed-by=$KEYRING] $MIRROR $suite main"
        done
    } >"$aptdir/sources.list"
    local opts=(
        -o "APT::Architecture=$debarch" -o "APT::Architectures::=$debarch"
        -o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=$aptdir/parts"
        -o "Dir::State::Lists=$aptdir/lists" -o "Dir::State::status=$aptdir/status"
        -o "Dir::Cache=$aptdir/cache" -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
        -o "APT::Sandbox::User=root"
    )
    say "fetching the $debarch kernel and busybox-static ($suites) into $out"
    apt-get -qq "${opts[@]}" update >/dev/null 2>"$aptdir/update.err" || {
        cat "$aptdir/update.err" >&2; die "apt-get update for $debarch ($suites) failed"; }
    # linux-image-<debarch> is a metapackage: its Depends names the real image package
    local image
    image=$(apt-cache "${opts[@]}" depends "linux-image-$debarch" 2>/dev/null |
            awk '/Depends: linux-image-/ {print $2; exit}')
    [ -n "$image" ] || die "no kernel image package for $debarch in $suites"
    local work
    work=$(mktemp -d)
    (cd "$work" && apt-get -qq "${opts[@]}" download "$image" busybox-static >/dev/null) ||
        die "apt-get download $image busybox-static ($debarch) failed"
    mkdir -p "$work/k" "$work/b"
    dpkg-deb --fsys-tarfile "$work"/linux-image-*.deb | tar -x -C "$work/k" ./boot
    dpkg-deb -x "$work"/busybox-static_*.deb "$work/b"
    local vmlinuz="" bb="" f
    for f in "$work"/k/boot/vmlinu[xz]-*; do [ -f "$f" ] && vmlinuz=$f; done
    for f in "$work"/b/bin/busybox "$work"/b/usr/bin/busybox; do [ -f "$f" ] && bb=$f; done
    [ -n "$vmlinuz" ] && [ -n "$bb" ] || die "kernel or busybox missing in the $debarch packages"
    cp "$work"/k/boot/config-* "$out/config" 2>/dev/null || true
    cp "$bb" "$out/busybox.tmp" && chmod 755 "$out/busybox.tmp" && mv "$out/busybox.tmp" "$out/busybox"
    cp "$vmlinuz" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
    echo "$(basename "$work"/linux-image-*.deb) $(basename "$work"/busybox-static_*.deb)" >"$out/kernel.txt"
    # the package lists (50+ MB) are needed again only to fetch anew
    rm -rf "$work" "$aptdir"
}

fetch x86_64  amd64   bookworm
fetch aarch64 arm64   bookworm
fetch riscv64 riscv64 trixie

# ---- 3. Rust for i386, aarch64 and riscv64 -----------------------------------------------
# The rustup rustc has only x86-64's libcore (and no rust-src to build another). Debian 12's
# rustc 1.63 has i686's and aarch64's in libstd-rust-dev:i386 / :arm64 (multiarch). Nothing
# is installed and dpkg's architectures stay as they are: rustc and libstd-rust-1.63 (its
# librustc_driver) for amd64, and libcore, compiler_builtins and rustc_std_workspace_core of
# each target, are unpacked into $RUST_CACHE; $RUST_CACHE/bin/rustc runs that rustc, whose
# sysroot is $RUST_CACHE/usr (found from the binary's path). Debian 12 has no riscv64
# architecture (and Debian 13's libstd-rust-dev:riscv64 belongs to its rustc 1.85), so
# riscv64's libcore is compiled by that rustc from Debian 12's rust-src (library/core) and
# compiler_builtins from librust-compiler-builtins-dev (0.1.70), with RUSTC_BOOTSTRAP=1 as
# the Rust build does (about 30 s of CPU, once). tinyelf build looks there
# (tinyelf/tools/toolchain.py, rustc_for).
RUST_CACHE="${TINYELF_RUST_CACHE:-$HOME/.cache/tinyelf-rust}"
RUST_TRIPLES="i686-unknown-linux-gnu aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu"
RV_TRIPLE=riscv64gc-unknown-linux-gnu
# rustc FLAGS... : the unpacked rustc, building a sysroot crate for riscv64 from source
rv_crate() {
    RUSTC_BOOTSTRAP=1 "$RUST_CACHE.tmp/bin/rustc" --crate-type rlib --target "$RV_TRIPLE" \
        -C opt-level=z -C panic=abort -C codegen-units=1 -C debuginfo=0 -C embed-bitcode=yes \
        -C metadata=tinyelf -C extra-filename=-tinyelf -Z force-unstable-if-unmarked \
        --out-dir "$RUST_CACHE.tmp/usr/lib/rustlib/$RV_TRIPLE/lib" "$@"
}
rust_fetch() {
    local t ok=1
    for t in $RUST_TRIPLES; do
        ls "$RUST_CACHE"/usr/lib/rustlib/"$t"/lib/libcore-*.rlib >/dev/null 2>&1 || ok=0
    done
    if [ "$ok" = 1 ] && "$RUST_CACHE/bin/rustc" -V >/dev/null 2>&1; then
        return 0
    fi
    local aptdir="$CACHE/apt/rust-bookworm"
    mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/parts"
    : >"$aptdir/status"
    echo "deb [arch=amd64,i386,arm64 signed-by=$KEYRING] $MIRROR bookworm main" >"$aptdir/sources.list"
    local opts=(
        -o "APT::Architecture=amd64" -o "APT::Architectures::=amd64"
        -o "APT::Architectures::=i386" -o "APT::Architectures::=arm64"
        -o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=$aptdir/parts"
        -o "Dir::State::Lists=$aptdir/lists" -o "Dir::State::status=$aptdir/status"
        -o "Dir::Cache=$aptdir/cache" -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
        -o "APT::Sandbox::User=root"
    )
    say "fetching Debian 12's rustc 1.63, the i686 and aarch64 libcores and rust-src into $RUST_CACHE"
    apt-get -qq "${opts[@]}" update >/dev/null 2>"$aptdir/update.err" || {
        cat "$aptdir/update.err" >&2; die "apt-get update for Debian's rustc failed"; }
    local work
    work=$(mktemp -d)
    (cd "$work" && apt-get -qq "${opts[@]}" download rustc:amd64 libstd-rust-1.63:amd64 \
        libstd-rust-dev:i386 libstd-rust-dev:arm64 rust-src librust-compiler-builtins-dev \
        >/dev/null) ||
        die "apt-get download of Debian's rustc, libstd-rust-dev:i386/arm64 and rust-src failed"
    rm -rf "$RUST_CACHE.tmp" && mkdir -p "$RUST_CACHE.tmp/bin"
    dpkg-deb -x "$work"/rustc_*_amd64.deb "$RUST_CACHE.tmp"
    dpkg-deb -x "$work"/libstd-rust-1.63_*_amd64.deb "$RUST_CACHE.tmp"
    local deb
    for deb in "$work"/libstd-rust-dev_*_i386.deb "$work"/libstd-rust-dev_*_arm64.deb; do
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$RUST_CACHE.tmp" --wildcards \
            './usr/lib/rustlib/*/lib/libcore-*.rlib' \
            './usr/lib/rustlib/*/lib/libcompiler_builtins-*.rlib' \
            './usr/lib/rustlib/*/lib/librustc_std_workspace_core-*.rlib'
    done
    rm -rf "$RUST_CACHE.tmp/usr/share" "$RUST_CACHE.tmp/usr/bin/rust-lld" "$RUST_CACHE.tmp/usr/bin/rust-clang" \
        "$RUST_CACHE.tmp/usr/bin/rust-llvm-dwp" "$RUST_CACHE.tmp/usr/bin/rustdoc"
    cat >"$RUST_CACHE.tmp/bin/rustc" <<'WRAP'
#!/bin/sh
# Debian 12's rustc 1.63, unpacked by tests/deps/install.sh: its librustc_driver is beside it.
root=$(cd "$(dirname "$0")/.." && pwd)
LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    exec "$root/usr/bin/rustc" "$@"
WRAP
    chmod 755 "$RUST_CACHE.tmp/bin/rustc"
    "$RUST_CACHE.tmp/bin/rustc" -V >/dev/null || die "the unpacked rustc 1.63 does not run"
    say "compiling libcore and compiler_builtins for $RV_TRIPLE (rustc 1.63, rust-src)"
    mkdir -p "$work/src" "$RUST_CACHE.tmp/usr/lib/rustlib/$RV_TRIPLE/lib"
    dpkg-deb --fsys-tarfile "$work"/rust-src_*.deb |
        tar -x -C "$work/src" --wildcards './usr/src/rustc-*/library/core/*' \
            './usr/src/rustc-*/library/stdarch/*' './usr/src/rustc-*/library/portable-simd/*'
    dpkg-deb -x "$work"/librust-compiler-builtins-dev_*.deb "$work/src"
    local core cb
    core=$(echo "$work"/src/usr/src/rustc-*/library/core/src/lib.rs)
    cb=$(echo "$work"/src/usr/share/cargo/registry/compiler_builtins-*/src/lib.rs)
    [ -f "$core" ] && [ -f "$cb" ] || die "library/core or compiler_builtins missing in rust-src"
    rv_crate --edition 2021 --crate-name core "$core" >/dev/null 2>"$work/rv.err" ||
        { cat "$work/rv.err" >&2; die "compiling libcore for $RV_TRIPLE failed"; }
    # build.rs of compiler_builtins sets feature="unstable" (and nothing else for riscv64)
    rv_crate --edition 2015 --crate-name compiler_builtins --cfg 'feature="compiler-builtins"' \
        --cfg 'feature="unstable"' --sysroot "$RUST_CACHE.tmp/usr" "$cb" >/dev/null 2>"$work/rv.err" ||
        { cat "$work/rv.err" >&2; die "compiling compiler_builtins for $RV_TRIPLE failed"; }
    rm -rf "$RUST_CACHE" && mv "$RUST_CACHE.tmp" "$RUST_CACHE"
    rm -rf "$work" "$aptdir"
}
rust_fetch
exit 0
