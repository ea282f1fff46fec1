/* statics.c -- static locals with initialisers (in .data, or .bss when
 * zero), static arrays, and pointers initialised to other statics (absolute
 * relocations inside .data: R_X86_64_64, or RELATIVE-style data in
 * .data.rel with -fPIC).  Exit status: final count. */
#include "../support/sys.h"

static int table[8] = { 10, 20, 30, 40, 50, 60, 70, 80 };
int *cursor = &table[3];                  /* pointer into .data */
static const char label[] = "statics";
const char *label_ptr = label + 3;        /* pointer into .rodata */
static long zeroed;                       /* .bss */

static int counter(void)
{
    static int n = 100;                   /* .data */
    static int calls;                     /* .bss */
    calls++;
    return n += calls;
}

static const char *next_word(void)
{
    static const char *words[] = { "alpha", "beta", "gamma" };
    static int i = 1;
    return words[i++ % 3];
}

int main(void)
{
    int last = 0;
    for (int i = 0; i < 5; i++)
        last = counter();
    out_kv("counter", last);
    for (int i = 0; i < 4; i++) {
        out_str(next_word());
        out_char(' ');
    }
    out_char('\n');
    out_kv("cursor", *cursor);
    cursor += 2;
    out_kv("cursor+2", *cursor);
    out_str(label_ptr);
    out_char('\n');
    zeroed += table[7];
    out_kv("zeroed", zeroed);
    return last - 100;
}
