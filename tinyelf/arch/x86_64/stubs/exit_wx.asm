; exit_wx.asm -- the end of a decompressor stub under --wx: the program was
; decoded into writable pages; make its code pages read+execute
; (mprotect(__text, __text_len, PROT_READ|PROT_EXEC)), then jump to its entry
; with rdx = 0 and rsp as the kernel gave them.
section .text
extern __text
extern __text_len
extern __entry
    mov edi, __text
    mov esi, __text_len
    push 5
    pop rdx
    push 10
    pop rax
    syscall
    xor edx, edx
    push __entry                ; not jmp rel32: the file may lie above 4 GiB (overlap80)
    ret
