# Fuzz seed (i386, as --32): REL relocations of many types, the GOT ones, a COMDAT group,
# a weak undefined reference.
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    call __x86.get_pc_thunk.bx
    addl $_GLOBAL_OFFSET_TABLE_, %ebx
    leal msg@GOTOFF(%ebx), %ecx
    movl counter@GOT(%ebx), %eax
    movl counter@GOT(%ebx), %eax
    movl $msg, %edx
    call helper
    call helper@PLT
    jmp 1f
1:  movb $0, %al
    movl $weak_missing, %eax
    movl $1, %eax
    xorl %ebx, %ebx
    int $0x80
    .section .text.__x86.get_pc_thunk.bx,"axG",@progbits,__x86.get_pc_thunk.bx,comdat
    .globl __x86.get_pc_thunk.bx
    .hidden __x86.get_pc_thunk.bx
    .type __x86.get_pc_thunk.bx,@function
__x86.get_pc_thunk.bx:
    movl (%esp), %ebx
    ret
    .section .text.helper,"axG",@progbits,helper,comdat
    .globl helper
    .type helper,@function
helper:
    ret
    .section .rodata.str1.1,"aMS",@progbits,1
msg: .asciz "seed\n"
    .data
    .globl counter
counter: .long _start, msg + 3
    .long msg - .
    .word 7
    .word msg - .
    .long counter@GOTOFF
    .byte 1
    .bss
buf: .zero 64
    .weak weak_missing
