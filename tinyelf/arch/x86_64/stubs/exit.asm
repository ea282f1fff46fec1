; exit.asm -- the end of a decompressor stub: jump to the program's entry.
; rsp and rdx are as the kernel left them (the decoders do not touch them).
section .text
extern __entry
    jmp __entry
