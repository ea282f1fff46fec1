/* tls.c -- MUST BE REJECTED by tinyelf: thread-local storage (__thread in
 * .tdata/.tbss, TPOFF/GOTTPOFF/TLSGD relocations) needs a thread pointer
 * that no start code sets up. */
#include "../support/sys.h"

__thread int tls_counter = 5;
__thread char tls_buf[32];

int main(void)
{
    tls_counter += 2;
    tls_buf[0] = 'x';
    return tls_counter;
}
