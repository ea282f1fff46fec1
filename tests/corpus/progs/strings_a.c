/* strings_a.c -- merged strings: identical literals and literals that are
 * suffixes of others in two objects (strings_b.c), in SHF_MERGE|SHF_STRINGS
 * .rodata.str1.1 sections when built with -fmerge-constants, plus merged
 * 8-byte constants (.rodata.cst8).  Output never depends on whether the
 * linker actually merged them.  Exit status: total length % 128. */
#include "../support/sys.h"

const char *b_greeting(void);
const char *b_suffix(void);
const char *b_other(int i);
double b_scale(double);

static const char *mine[] = { "hello, corpus\n", "corpus\n", "\n", "tail merge\n" };

int main(void)
{
    long total = 0;
    for (int i = 0; i < 4; i++) {
        out_str(mine[i]);
        total += strlen(mine[i]);
    }
    const char *g = b_greeting(), *s = b_suffix();
    out_str(g);
    out_str(s);
    total += strlen(g) + strlen(s);
    for (int i = 0; i < 3; i++) {
        out_str(b_other(i));
        total += strlen(b_other(i));
    }
    out_kv("scaled", (long)b_scale(2.5 * 1.5));
    out_kv("total", total);
    return (int)(total % 128);
}
