; payload.asm -- the start of a decompressor stub in a file below 2 GiB:
; rsi = the payload (a 32-bit absolute address).
section .text
extern __payload
    mov esi, __payload
