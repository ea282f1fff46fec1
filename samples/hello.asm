; hello.asm -- Intel-syntax (NASM dialect) x86-64 hello world, written for keystone.
;
;   $ hello   ->  prints "Hello from asm!\n", exit status 0
;
; A _start label, write(1, msg, len) and exit(0) by raw syscalls, the message
; as `db` data after the code, its length computed from two labels.  Position
; independent (rip-relative lea), so the flat bytes run wherever they are put.
;
; Assemble with keystone in NASM syntax mode (keystone-engine 0.9.2):
;
;   python3 -c "import keystone as k; ks = k.Ks(k.KS_ARCH_X86, k.KS_MODE_64); \
;       ks.syntax = k.KS_OPT_SYNTAX_NASM; \
;       print(bytes(ks.asm(open('samples/hello.asm').read(), 0x401000)[0]).hex())"
;
; Run check used while writing it (flat bytes -> ELF with GNU tools):
;   objcopy -I binary -O elf64-x86-64 \
;       --rename-section .data=.text,alloc,load,readonly,code,contents hello.bin hello.o
;   ld -static -nostdlib -n -N -s -T linker_scripts/baseline.ld \
;       -e _binary_hello_bin_start -o hello hello.o
;
; Keystone quirks this file works around (checked with keystone-engine 0.9.2):
;   - bare numbers are read as HEX in both NASM and Intel mode
;     (`mov eax, 60` assembles to mov eax, 0x60), so every constant is 0x..;
;   - `db` exists only in NASM mode, and only with numbers: quoted strings in
;     db fail ("Cannot find a symbol"), so the text is spelled out in bytes;
;   - `;` starts a comment only in NASM mode (in Intel/GAS mode it separates
;     statements and `#` is the comment character).

_start:
    mov eax, 0x1                ; write
    mov edi, 0x1                ; stdout
    lea rsi, [rel msg]
    mov edx, msg_end - msg
    syscall
    mov eax, 0x3c               ; exit
    xor edi, edi                ; status 0
    syscall

msg:                            ; "Hello from asm!\n"
    db 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x66, 0x72
    db 0x6f, 0x6d, 0x20, 0x61, 0x73, 0x6d, 0x21, 0x0a
msg_end:
