/* structs.c -- struct copies (large ones become memcpy calls), struct
 * arguments and returns by value, zeroing (memset), and arrays of structs
 * with initialisers.  Needs memcpy/memset from the support archive.
 * Exit status: checksum % 128. */
#include "../support/sys.h"

struct big {
    long id;
    char name[40];
    long vals[32];
};

struct pt { int x, y; };
struct rect { struct pt a, b; };

static struct big proto = { 7, "prototype", { 1, 2, 3, 4, 5 } };
static struct big copies[4];

__attribute__((noinline)) static struct big make(long id)
{
    struct big b = proto;          /* memcpy */
    b.id = id;
    for (int i = 0; i < 32; i++)
        b.vals[i] += id * i;
    return b;                       /* returned through hidden pointer */
}

__attribute__((noinline)) static long sum_big(struct big b)   /* by value */
{
    long s = b.id;
    for (int i = 0; i < 32; i++)
        s += b.vals[i];
    return s;
}

static struct rect grow(struct rect r, int d)
{
    r.a.x -= d; r.a.y -= d; r.b.x += d; r.b.y += d;
    return r;
}

int main(void)
{
    long check = 0;
    for (int i = 0; i < 4; i++) {
        copies[i] = make(i + 1);
        check = check * 7 + sum_big(copies[i]);
    }
    struct big zero;
    memset(&zero, 0, sizeof zero);
    zero.vals[31] = 9;
    check += sum_big(zero);
    struct rect r = { { 1, 2 }, { 3, 4 } };
    r = grow(grow(r, 2), 3);
    out_kv("rect", r.a.x * 1000 + r.a.y * 100 + r.b.x * 10 + r.b.y);
    struct pt pts[5] = { [1] = { 1, 1 }, [4] = { 4, 16 } };
    for (int i = 0; i < 5; i++)
        check += pts[i].x * 3 + pts[i].y;
    out_str(copies[2].name);
    out_char('\n');
    out_kv("check", check);
    return (int)(check % 128);
}
