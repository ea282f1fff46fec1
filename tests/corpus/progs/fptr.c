/* fptr.c -- function-pointer tables: a writable one in .data (patched at run
 * time), a const one (.rodata, or .data.rel.ro with -fPIC/-fPIE), and a
 * struct of pointers.  Exit status: result & 0x7f. */
#include "../support/sys.h"

static long add(long a, long b) { return a + b; }
static long sub(long a, long b) { return a - b; }
static long mul(long a, long b) { return a * b; }
static long mx(long a, long b) { return a > b ? a : b; }
long global_xor(long a, long b) { return a ^ b; }

typedef long (*op_fn)(long, long);

op_fn ops[5] = { add, sub, mul, mx, global_xor };          /* .data */
static const op_fn cops[4] = { mul, add, global_xor, sub }; /* const */

struct vtable {
    const char *name;
    op_fn fn;
};
static const struct vtable named[] = {
    { "add", add }, { "sub", sub }, { "mul", mul }, { "max", mx }, { "xor", global_xor },
};

op_fn *volatile table_ptr = ops;   /* pointer to a table, itself in .data */

int main(void)
{
    long acc = 3;
    for (int i = 0; i < 10; i++)
        acc = ops[i % 5](acc, i + 2);
    out_kv("ops", acc);
    ops[3] = sub;                  /* patch the writable table */
    for (int i = 0; i < 8; i++)
        acc = cops[i & 3](acc, 7) + table_ptr[3](i, 1);
    out_kv("cops", acc);
    for (unsigned i = 0; i < sizeof named / sizeof named[0]; i++) {
        out_str(named[i].name);
        out_char(' ');
        out_i64(named[i].fn(40, 2));
        out_char('\n');
    }
    return (int)(acc & 0x7f);
}
