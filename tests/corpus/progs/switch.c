/* switch.c -- dense switches (jump tables in .rodata, with -fPIC relative
 * entries) and a sparse one.  Exit status: checksum & 0x7f. */
#include "../support/sys.h"

__attribute__((noinline)) static int dense(int x)
{
    switch (x) {
    case 0: return 17;
    case 1: return x * 3 + 1;
    case 2: return 99;
    case 3: return -5;
    case 4: return x << 4;
    case 5: return 1234;
    case 6: return 6 * 6;
    case 7: return 700;
    case 8: return -88;
    case 9: return 9;
    case 10: return 1010;
    case 11: return 11 << 2;
    default: return -1;
    }
}

__attribute__((noinline)) static const char *name(unsigned x)
{
    switch (x) {
    case 0: return "zero";
    case 1: return "one";
    case 2: return "two";
    case 3: return "three";
    case 4: return "four";
    case 5: return "five";
    case 6: return "six";
    case 7: return "seven";
    default: return "many";
    }
}

__attribute__((noinline)) static int sparse(long x)
{
    switch (x) {
    case 1: return 1;
    case 100: return 2;
    case 10000: return 3;
    case 1000000: return 4;
    case -7: return 5;
    default: return 0;
    }
}

int main(void)
{
    long sum = 0;
    for (int i = -2; i < 14; i++) {
        int d = dense(i);
        sum = sum * 31 + d;
        out_i64(i);
        out_char(' ');
        out_i64(d);
        out_char(' ');
        out_str(name((unsigned)i));
        out_char('\n');
    }
    long keys[] = {1, 100, 10000, 1000000, -7, 5};
    for (int i = 0; i < 6; i++)
        sum += sparse(keys[i]) * (i + 1);
    out_kv("sum", sum);
    return (int)(sum & 0x7f);
}
