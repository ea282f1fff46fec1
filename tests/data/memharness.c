/*
 * memharness.c -- drives tinyelf's builtins (memcpy, memmove, memset, memcmp,
 * bcmp, strlen) from stdin, for tests/test_builtins.py.  Freestanding, no
 * libc: built with -fno-builtin so every call below is a real call that the
 * linker must satisfy.
 *
 * Each record on stdin: op (1 byte), c (1 byte), 2 pad bytes, dst, src, n
 * (little-endian u32 each), then BUF bytes of initial buffer contents.
 * For each record it writes an 8-byte little-endian result (pointer results
 * as an offset from buf, int results sign-extended) and the buffer after
 * the call.
 */
typedef unsigned long size_t;
#define BUF 512

void *memcpy(void *, const void *, size_t);
void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t);
int bcmp(const void *, const void *, size_t);
size_t strlen(const char *);

static long sys3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c)
                      : "rcx", "r11", "memory");
    return ret;
}

static int read_full(unsigned char *p, long n)
{
    while (n > 0) {
        long r = sys3(0, 0, (long)p, n);
        if (r <= 0)
            return 0;
        p += r;
        n -= r;
    }
    return 1;
}

static void write_full(const unsigned char *p, long n)
{
    while (n > 0) {
        long r = sys3(1, 1, (long)p, n);
        if (r <= 0)
            sys3(60, 2, 0, 0);
        p += r;
        n -= r;
    }
}

static unsigned char buf[BUF];
static unsigned char hdr[16];
static long result[1];

static unsigned get32(const unsigned char *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (unsigned)p[3] << 24;
}

void _start(void)
{
    while (read_full(hdr, 16) && read_full(buf, BUF)) {
        unsigned char *d = buf + get32(hdr + 4), *s = buf + get32(hdr + 8);
        size_t n = get32(hdr + 12);
        long r = 0;
        switch (hdr[0]) {
        case 'c': r = (unsigned char *)memcpy(d, s, n) - buf; break;
        case 'm': r = (unsigned char *)memmove(d, s, n) - buf; break;
        case 's': r = (unsigned char *)memset(d, hdr[1] | 0x1200, n) - buf; break;
        case 'p': r = memcmp(d, s, n); break;
        case 'b': r = bcmp(d, s, n); break;
        case 'l': r = strlen((const char *)d); break;
        default: sys3(60, 3, 0, 0);
        }
        result[0] = r;
        write_full((const unsigned char *)result, 8);
        write_full(buf, BUF);
    }
    sys3(60, 0, 0, 0);
}
