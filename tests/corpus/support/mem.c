/*
 * mem.c -- the C library memory/string routines that compilers call even in
 * freestanding code: gcc for struct copies and zeroing, LLVM (rustc) for
 * copy loops and byte-count loops.  Rust's compiler_builtins does NOT define
 * these on x86_64-unknown-linux-gnu, so GNU ld baselines link this file
 * (tinyelf will provide its own).
 *
 * Must be compiled with -fno-builtin -fno-tree-loop-distribute-patterns, or
 * gcc turns the loops below back into calls to themselves.
 */
typedef unsigned long size_t;

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p - *q;
    return 0;
}

int bcmp(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n);
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
