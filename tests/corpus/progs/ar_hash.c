/* ar_hash.c -- archive member that needs another member (ar_vec.c). */
typedef unsigned long u64;
typedef unsigned int u32;
long vec_sum(const long *a, int n);

static u64 state = 0xcbf29ce484222325UL;   /* FNV offset basis, in .data */

u64 hash_words(const u32 *w, int n)
{
    long tmp[8];
    for (int i = 0; i < n; i++) {
        state ^= w[i];
        state *= 0x100000001b3UL;
        tmp[i & 7] = (long)(w[i] & 0xff);
    }
    return state + (u64)vec_sum(tmp, n < 8 ? n : 8);
}
