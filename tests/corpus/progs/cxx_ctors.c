/* cxx_ctors.c -- MUST BE REJECTED by tinyelf: a hand-made old-style .ctors
 * entry and a .preinit_array entry (what pre-4.7 g++ or hand-written code
 * emits). */
#include "../support/sys.h"

static int state = 1;
static void set_state(void) { state = 9; }
static void pre(void) { state *= 2; }

__attribute__((section(".ctors"), used)) static void (*const ctor_entry)(void) = set_state;
__attribute__((section(".preinit_array"), used)) static void (*const pre_entry)(void) = pre;

int main(void)
{
    return state;
}
