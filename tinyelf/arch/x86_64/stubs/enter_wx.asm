; enter_wx.asm -- the start of a decompressor stub under --wx.  The file is
; one read+execute segment with no bss (the kernel maps a segment's bss
; writable whatever its p_flags); the stub maps the program's memory and the
; codec's tables itself, read+write:
;   mmap(__reserve, __reserve_len, PROT_READ|PROT_WRITE,
;        MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, fd (ignored), 0)
; The syscall returns the address in rax (cleared again: the decoders expect
; the kernel's zero) and clobbers rcx and r11, which the decoders set before use.
section .text
extern __reserve
extern __reserve_len
    mov edi, __reserve
    mov esi, __reserve_len
    push 3
    pop rdx
    push 0x32
    pop r10
    push 9
    pop rax
    syscall
    xor eax, eax
