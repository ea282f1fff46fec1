/* ctor.c -- MUST BE REJECTED by tinyelf: uses __attribute__((constructor))
 * and ((destructor)), which put pointers in .init_array/.fini_array that no
 * start code would run.  (GNU ld with baseline.ld silently discards them;
 * baseline-keepinit.ld keeps them.) */
#include "../support/sys.h"

static int ready;

__attribute__((constructor)) static void init(void) { ready = 42; }
__attribute__((constructor(200))) static void init_early(void) { ready += 1; }
__attribute__((destructor)) static void fini(void) { out_str("bye\n"); }

int main(void)
{
    out_kv("ready", ready);
    return ready;
}
