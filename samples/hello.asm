; hello.asm: Intel-syntax x86-64 (NASM style), assembled by tinyelf itself.
;
;   tinyelf build samples/hello.asm -o hello && ./hello   ->  "Hello from asm!", exit 0
;
; _start writes the message with the write system call and exits with exit.

_start:
    mov eax, 1                  ; write
    mov edi, 1                  ; to stdout
    lea rsi, [rel msg]          ; rip-relative: runs wherever it is loaded
    mov edx, msg_end - msg
    syscall
    mov eax, 60                 ; exit
    xor edi, edi                ; status 0
    syscall

msg:
    db "Hello from asm!", 10
msg_end:
