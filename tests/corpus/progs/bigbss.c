/* bigbss.c -- large zero-initialised arrays (.bss, several MiB): a sieve of
 * Eratosthenes over 4,000,000 and a 1 MiB histogram.  Also checks that .bss
 * really starts zeroed.  Exit status: prime count % 128. */
#include "../support/sys.h"

#define N 4000000
static unsigned char composite[N];
u32 hist[1 << 18];                 /* 1 MiB, global */
static long tail_marker[3];

int main(void)
{
    long nonzero = 0;
    for (long i = 0; i < N; i += 4093)
        nonzero += composite[i];
    for (long i = 0; i < (1 << 18); i += 1021)
        nonzero += hist[i];
    nonzero += tail_marker[0] + tail_marker[1] + tail_marker[2];
    out_kv("nonzero", nonzero);

    long count = 0;
    for (long i = 2; i < N; i++) {
        if (composite[i])
            continue;
        count++;
        hist[i & ((1 << 18) - 1)]++;
        for (long j = i * i; j < N; j += i)
            composite[j] = 1;
    }
    u64 h = 0;
    for (long i = 0; i < (1 << 18); i++)
        h = h * 1000003 + hist[i];
    tail_marker[2] = count;
    out_kv("primes", count);
    out_str("hash=");
    out_hex(h);
    out_char('\n');
    return (int)(tail_marker[2] % 128);
}
