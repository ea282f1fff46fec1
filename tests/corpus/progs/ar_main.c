/* ar_main.c -- several objects plus a static archive (libar.a with members
 * ar_vec.c, ar_hash.c, ar_opt.c, ar_unused.c).  ar_hash pulls ar_vec in
 * (archive member referencing another member); ar_unused is never needed;
 * ar_opt is only referenced WEAKLY, which must not pull it out of the archive
 * (so optional_feature stays 0).  ar_util.c is a plain second object.
 * Exit status: hash % 100. */
#include "../support/sys.h"

u64 hash_words(const u32 *w, int n);   /* ar_hash.c (archive) */
long vec_dot(const long *a, const long *b, int n);  /* ar_vec.c (archive) */
int optional_feature(void) __attribute__((weak));   /* ar_opt.c (archive) */
int util_twice(int);                    /* ar_util.c (object) */
extern int util_counter;

int main(void)
{
    static const u32 words[] = { 1, 2, 3, 0xdeadbeef, 42, 7 };
    u64 h = hash_words(words, 6);
    out_str("hash=");
    out_hex(h);
    out_char('\n');
    long a[] = { 1, 2, 3, 4 }, b[] = { 5, 6, 7, 8 };
    out_kv("dot", vec_dot(a, b, 4));
    out_kv("twice", util_twice(21));
    out_kv("util_counter", util_counter);
    if (optional_feature)
        out_kv("optional", optional_feature());
    else
        out_str("optional absent\n");
    return (int)(h % 100);
}
