/* main-style aarch64 program: tinyelf adds the start stub; uses strlen/memcpy builtins. */
static long sys3(long n, long a, long b, long c)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile ("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
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
