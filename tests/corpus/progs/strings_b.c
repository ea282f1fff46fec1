/* strings_b.c -- other half of the merged-strings test (see strings_a.c). */
#include "../support/sys.h"

const char *b_greeting(void) { return "hello, corpus\n"; }
const char *b_suffix(void) { return "merge\n"; }
const char *b_other(int i)
{
    static const char *const t[] = { "corpus\n", "tail merge\n", "only in b\n" };
    return t[i];
}
double b_scale(double x) { return x * 2.5 + 1.5; }
