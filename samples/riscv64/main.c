/* main-style riscv64 program: tinyelf adds the start stub; uses strlen/memcpy builtins. */
static long sys3(long n, long a, long b, long c)
{
    register long a7 __asm__("a7") = n;
    register long a0 __asm__("a0") = a;
    register long a1 __asm__("a1") = b;
    register long a2 __asm__("a2") = c;
    __asm__ volatile ("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2) : "memory");
    return a0;
}
unsigned long strlen(const char *);

int main(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        sys3(64, 1, (long)argv[i], strlen(argv[i]));
        sys3(64, 1, (long)"\n", 1);
    }
    return argc + 40;
}
