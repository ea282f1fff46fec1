# Fuzz seed: many relocation types, a COMDAT group, a weak undefined reference.
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    lea msg(%rip), %rsi
    mov $msg, %edx
    movabs $msg, %rax
    mov counter@GOTPCREL(%rip), %rax
    call helper
    lea _GLOBAL_OFFSET_TABLE_(%rip), %rbx
    movabs $counter@GOTOFF, %rcx
    mov $weak_missing, %eax
    mov $60, %eax
    xor %edi, %edi
    syscall
    .section .text.helper,"axG",@progbits,helper,comdat
    .globl helper
    .type helper,@function
helper:
    ret
    .section .rodata.str1.1,"aMS",@progbits,1
msg: .asciz "seed\n"
    .data
    .globl counter
counter: .quad _start, msg + 3
    .long msg - .
    .word 7
    .quad counter@SIZE
    .bss
buf: .zero 64
    .weak weak_missing
