#!/bin/sh
# Rebuild the fuzz seed corpus (tests/fuzz/seeds) from these sources.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=$here/../seeds
rm -rf "$out"; mkdir -p "$out"
CF="-c -ffreestanding -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables"
RF="--edition 2021 --crate-type bin --emit=obj -C panic=abort -C codegen-units=1 -C debuginfo=0 -C force-unwind-tables=no"
mkdir "$out/c_hello" "$out/rs_hello" "$out/rs_exit" "$out/c_multi_pic" "$out/c_multi_large" "$out/asm_relocs" "$out/archive"
mkdir "$out/i386_c_hello" "$out/i386_rs_hello" "$out/i386_c_multi_pic" "$out/i386_c_multi_nopie" "$out/i386_asm_relocs" "$out/i386_archive"
gcc $CF -Os -fno-pie -ffunction-sections -fdata-sections -o "$out/c_hello/hello.o" "$root/samples/hello.c"
rustc $RF -C opt-level=z -C relocation-model=static -o "$out/rs_hello/hello.o" "$root/samples/hello.rs"
rustc $RF -C opt-level=3 -C relocation-model=pic -o "$out/rs_exit/exit.o" "$root/samples/exit.rs"
gcc $CF -O2 -fPIC -fcommon -ffunction-sections -fdata-sections -o "$out/c_multi_pic/a.o" "$here/multi_a.c"
gcc $CF -O2 -fPIC -fcommon -o "$out/c_multi_pic/b.o" "$here/multi_b.c"
gcc $CF -O1 -fPIC -mcmodel=large -fcommon -o "$out/c_multi_large/a.o" "$here/multi_a.c"
gcc $CF -O0 -fno-pie -mcmodel=large -fcommon -o "$out/c_multi_large/b.o" "$here/multi_b.c"
as --64 -o "$out/asm_relocs/relocs.o" "$here/relocs.s"
cp "$out/c_multi_pic/a.o" "$out/archive/a.o"
ar rcs "$out/archive/libb.a" "$out/c_multi_pic/b.o" "$out/asm_relocs/relocs.o"
# i386 (ELF32, REL): gcc -m32, as --32, and Debian's rustc 1.63 for i686 (tests/deps/install.sh)
RUSTC32=${TINYELF_RUSTC:-$HOME/.cache/tinyelf-rust/bin/rustc}
gcc -m32 $CF -Os -fno-pie -ffunction-sections -fdata-sections -o "$out/i386_c_hello/hello.o" "$root/samples/i386/hello.c"
"$RUSTC32" --target i686-unknown-linux-gnu $RF -C opt-level=z -C relocation-model=static -o "$out/i386_rs_hello/hello.o" "$root/samples/i386/hello.rs"
gcc -m32 $CF -O2 -fPIC -fcommon -ffunction-sections -fdata-sections -o "$out/i386_c_multi_pic/a.o" "$here/multi_a.c"
gcc -m32 $CF -O2 -fPIC -fno-plt -fcommon -o "$out/i386_c_multi_pic/b.o" "$here/multi_b.c"
gcc -m32 $CF -O0 -fno-pie -mregparm=3 -fcommon -o "$out/i386_c_multi_nopie/a.o" "$here/multi_a.c"
gcc -m32 $CF -Os -fno-pie -mregparm=3 -fcommon -o "$out/i386_c_multi_nopie/b.o" "$here/multi_b.c"
as --32 -o "$out/i386_asm_relocs/relocs.o" "$here/relocs32.s"
cp "$out/i386_c_multi_pic/a.o" "$out/i386_archive/a.o"
ar rcs "$out/i386_archive/libb.a" "$out/i386_c_multi_pic/b.o" "$out/i386_asm_relocs/relocs.o"
