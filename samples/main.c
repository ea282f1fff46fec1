/*
 * main.c -- freestanding C in hosted style: `int main(int argc, char **argv)`
 * and NO _start.  The linker (tinyelf) is expected to add a start stub that
 * loads argc/argv from the initial stack, calls main and exits with its return
 * value.
 *
 *   $ main a b c   ->  prints "3\n" (argc - 1), exit status 3
 *
 * Build by hand (GNU ld needs a start stub; tests/corpus/support/start.c has one):
 *   gcc -c -Os -ffreestanding -fno-stack-protector -fno-asynchronous-unwind-tables \
 *       -fno-pie -nostdlib -o main.o samples/main.c
 *   gcc -c -Os -ffreestanding -fno-stack-protector -fno-asynchronous-unwind-tables \
 *       -fno-pie -nostdlib -o start.o tests/corpus/support/start.c
 *   ld -static -nostdlib -n -N -s --gc-sections --build-id=none \
 *       -T linker_scripts/baseline.ld -o main main.o start.o
 */
static long sys_write(int fd, const void *buf, unsigned long len)
{
    long ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(1L), "D"((long)fd), "S"(buf), "d"(len)
                      : "rcx", "r11", "memory");
    return ret;
}

int main(int argc, char **argv)
{
    char out[24], *p = out + sizeof out;
    unsigned long v = argc - 1;
    (void)argv;
    *--p = '\n';
    do {
        *--p = '0' + v % 10;
        v /= 10;
    } while (v);
    sys_write(1, p, out + sizeof out - p);
    return 3;
}
