/*
 * wc.c -- freestanding C line/word/byte counter for stdin.
 *
 *   $ printf 'one two\nthree\n' | wc    ->  "2 3 14\n"   (lines words bytes)
 *
 * Reads stdin through a 64 KiB static buffer (in .bss), prints
 * "LINES WORDS BYTES\n" and exits 0 (1 on a read error).  Own _start, raw
 * syscalls, no libc.
 *
 * Build by hand:
 *   gcc -c -Os -ffreestanding -fno-stack-protector -fno-asynchronous-unwind-tables \
 *       -fno-pie -nostdlib -o wc.o samples/wc.c
 *   ld -static -nostdlib -n -N -s --gc-sections --build-id=none \
 *       -T linker_scripts/baseline.ld -o wc wc.o
 */
typedef unsigned long size_t;

static long sys3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c)
                      : "rcx", "r11", "memory");
    return ret;
}

static char buf[65536];

static char *put_num(char *p, unsigned long v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = '0' + v % 10;
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

void _start(void)
{
    unsigned long lines = 0, words = 0, bytes = 0;
    int in_word = 0;
    long n;

    while ((n = sys3(0, 0, (long)buf, sizeof buf)) > 0) {
        bytes += n;
        for (long i = 0; i < n; i++) {
            char c = buf[i];
            if (c == '\n')
                lines++;
            if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
                in_word = 0;
            } else if (!in_word) {
                in_word = 1;
                words++;
            }
        }
    }

    char out[64], *p = out;
    p = put_num(p, lines);
    *p++ = ' ';
    p = put_num(p, words);
    *p++ = ' ';
    p = put_num(p, bytes);
    *p++ = '\n';
    sys3(1, 1, (long)out, p - out);
    sys3(60, n < 0, 0, 0);
    __builtin_unreachable();
}
