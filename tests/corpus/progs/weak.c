/* weak.c -- weak symbols: a weak definition overridden by a strong one in
 * weak_strong.c, a weak definition nobody overrides, weak undefined data and
 * function references (resolve to 0 in a static link; tested with
 * `if (&sym)`), and a weak alias.  Exit status: 40 + bit flags. */
#include "../support/sys.h"

__attribute__((weak)) int hook(void) { return 1; }         /* overridden */
__attribute__((weak)) int lonely(void) { return 10; }      /* not overridden */
__attribute__((weak)) int weak_data = 111;                  /* overridden */

extern int missing_data __attribute__((weak));              /* never defined */
extern int missing_fn(void) __attribute__((weak));         /* never defined */
extern long missing_arr[] __attribute__((weak));

static int real_impl(void) { return 77; }
int aliased(void) __attribute__((weak, alias("real_impl")));

int main(void)
{
    int flags = 0;
    out_kv("hook", hook());
    out_kv("lonely", lonely());
    out_kv("weak_data", weak_data);
    if (&missing_data) {
        out_str("missing_data present\n");
        flags |= 1;
    } else {
        out_str("missing_data absent\n");
    }
    if (missing_fn) {
        out_kv("missing_fn", missing_fn());
        flags |= 2;
    } else {
        out_str("missing_fn absent\n");
    }
    if (missing_arr != 0)
        flags |= 4;
    out_kv("aliased", aliased());
    return 40 + flags + (hook() == 2 ? 8 : 0) + (weak_data == 222 ? 16 : 0);
}
