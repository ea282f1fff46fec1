/* common_a.c -- tentative definitions shared with common_b.c; compiled with
 * -fcommon they become COMMON symbols (sized by the largest, aligned by the
 * strictest), merged by the linker.  Exit status: counter. */
#include "../support/sys.h"

int counter;
char shared_buf[64];
long big_common[20000];            /* 160 KB COMMON */
double dcommon;

void bump(int by);                  /* common_b.c */
long fill(void);

int main(void)
{
    counter = 5;
    bump(7);
    bump(30);
    out_kv("counter", counter);
    out_kv("fill", fill());
    out_str(shared_buf);
    out_kv("last", big_common[19999]);
    out_kv("d", (long)(dcommon * 4));
    return counter;
}
