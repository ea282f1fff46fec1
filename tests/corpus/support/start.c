/*
 * start.c -- minimal start stub for hosted-style programs (samples/main.c,
 * most corpus programs): _start loads argc/argv/envp from the initial stack,
 * calls main(argc, argv, envp) and exits with its return value.
 * Compiled with each variant's flags, so it varies with -fPIC, -mcmodel etc.
 */
#if defined(__aarch64__) || defined(__riscv) || defined(__i386__)
#include "sys.h"
#endif

int main(int argc, char **argv, char **envp);

#if defined(__aarch64__)
__asm__(
    ".text\n"
    ".globl _start\n"
    ".type _start, %function\n"
    "_start:\n"
    "    mov x0, sp\n"
    "    bl __corpus_start\n");
#elif defined(__i386__)
/* i386: the stack pointer goes both in eax and on the stack, so that
 * __corpus_start gets it with cdecl and with -mregparm=3 alike; esp is
 * 16-byte aligned at the call */
__asm__(
    ".text\n"
    ".globl _start\n"
    ".type _start, @function\n"
    "_start:\n"
    "    xor %ebp, %ebp\n"
    "    mov %esp, %eax\n"
    "    and $-16, %esp\n"
    "    sub $12, %esp\n"
    "    push %eax\n"
    "    call __corpus_start\n"
    "    hlt\n");
#elif defined(__riscv)
__asm__(
    ".text\n"
    ".globl _start\n"
    ".type _start, @function\n"
    "_start:\n"
    /* gp for the linker's gp-relative relaxation, as crt1.o sets it */
    "    .option push\n"
    "    .option norelax\n"
    "    lla gp, __global_pointer$\n"
    "    .option pop\n"
    "    mv a0, sp\n"
    "    call __corpus_start\n");
#else
__asm__(
    ".text\n"
    ".globl _start\n"
    ".type _start, @function\n"
    "_start:\n"
    "    xor %ebp, %ebp\n"
    "    mov %rsp, %rdi\n"
    "    and $-16, %rsp\n"
    "    call __corpus_start\n"
    "    hlt\n");
#endif

__attribute__((used, noreturn)) void __corpus_start(long *sp)
{
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    long status = main(argc, argv, argv + argc + 1);
#if defined(__aarch64__) || defined(__riscv) || defined(__i386__)
    sys_exit((int)status);
#else
    __asm__ volatile ("syscall" : : "a"(60L), "D"(status) : "rcx", "r11", "memory");
    __builtin_unreachable();
#endif
}
