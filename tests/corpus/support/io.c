/* io.c -- output helpers declared in sys.h (member of libsupport.a). */
#include "sys.h"

void out_mem(const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = sys_write(1, s, n);
        if (w <= 0)
            sys_exit(120);
        s += w;
        n -= w;
    }
}

void out_str(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    out_mem(s, n);
}

void out_char(char c)
{
    out_mem(&c, 1);
}

void out_u64(u64 v)
{
    char buf[24], *p = buf + sizeof buf;
    do {
        *--p = '0' + v % 10;
        v /= 10;
    } while (v);
    out_mem(p, buf + sizeof buf - p);
}

void out_i64(i64 v)
{
    if (v < 0) {
        out_char('-');
        out_u64(-(u64)v);
    } else {
        out_u64(v);
    }
}

void out_hex(u64 v)
{
    static const char digits[] = "0123456789abcdef";
    char buf[18], *p = buf + sizeof buf;
    do {
        *--p = digits[v & 15];
        v >>= 4;
    } while (v);
    *--p = 'x';
    *--p = '0';
    out_mem(p, buf + sizeof buf - p);
}

void out_kv(const char *key, i64 v)
{
    out_str(key);
    out_char('=');
    out_i64(v);
    out_char('\n');
}
