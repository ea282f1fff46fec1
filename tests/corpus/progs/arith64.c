/* arith64.c -- 64-bit arithmetic: wide multiply (128-bit product high half),
 * signed/unsigned division and remainder, shifts and rotates, overflow
 * builtins, an LCG and xorshift, 64-bit constants that need movabs.
 * Values come through volatile so nothing folds at compile time.
 * Exit status: low 7 bits of the final mix. */
#include "../support/sys.h"

static volatile u64 seed = 0x123456789abcdef0UL;
static volatile i64 sneg = -1234567890123456789L;

static u64 mulhi(u64 a, u64 b) { return (u64)(((unsigned __int128)a * b) >> 64); }
static u64 rotl(u64 x, int k) { return (x << k) | (x >> (64 - k)); }
static int popcount(u64 x)   /* no __builtin_popcountl: that calls libgcc's __popcountdi2 */
{
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

int main(void)
{
    u64 a = seed, mix = 0;
    i64 s = sneg;
    out_str("mulhi=");
    out_hex(mulhi(a, 0xfedcba9876543210UL));
    out_char('\n');
    out_kv("sdiv", s / 1000003);
    out_kv("srem", s % 1000003);
    out_kv("udiv", (i64)(a / 77777));
    out_kv("urem", (i64)(a % 77777));
    out_kv("sar", s >> 13);
    out_str("shr=");
    out_hex((u64)s >> 13);
    out_char('\n');
    out_str("rotl=");
    out_hex(rotl(a, 17));
    out_char('\n');
    i64 r;
    out_kv("ovf_mul", __builtin_mul_overflow(s, 16, &r));
    out_kv("ovf_add", __builtin_add_overflow(s, 10, &r));
    u64 x = a;
    for (int i = 0; i < 1000; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;   /* LCG */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;                                             /* xorshift */
        mix += x / (i + 1) + (x % 97);
    }
    out_str("mix=");
    out_hex(mix);
    out_char('\n');
    out_kv("popcount", popcount(mix));
    out_kv("clz", __builtin_clzl(mix | 1));
    return (int)(mix & 0x7f);
}
