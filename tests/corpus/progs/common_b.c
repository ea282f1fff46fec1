/* common_b.c -- second half of the COMMON test (see common_a.c). */
#include "../support/sys.h"

int counter;
char shared_buf[64];
long big_common[20000];
double dcommon;

void bump(int by)
{
    counter += by;
    dcommon += 0.75;
}

long fill(void)
{
    long s = 0;
    for (int i = 0; i < 20000; i++) {
        big_common[i] = i * 3;
        s += big_common[i];
    }
    const char *msg = "common ok\n";
    for (int i = 0; msg[i]; i++)
        shared_buf[i] = msg[i];
    return s;
}
