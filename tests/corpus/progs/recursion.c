/* recursion.c -- deep and mutual recursion: Ackermann, naive Fibonacci,
 * Towers of Hanoi, even/odd across two functions, recursive descent
 * expression evaluator.  Exit status: fib(20) % 128. */
#include "../support/sys.h"

static long ack(long m, long n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ack(m - 1, 1);
    return ack(m - 1, ack(m, n - 1));
}

long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static long moves;
static void hanoi(int n, int from, int to, int via)
{
    if (n == 0)
        return;
    hanoi(n - 1, from, via, to);
    moves++;
    hanoi(n - 1, via, to, from);
}

int is_odd(unsigned n);
int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }

/* expr := term (('+'|'-') term)* ; term := factor ('*' factor)* ;
 * factor := digit | '(' expr ')' */
static const char *pos;
static long expr(void);
static long factor(void)
{
    if (*pos == '(') {
        pos++;
        long v = expr();
        pos++;
        return v;
    }
    return *pos++ - '0';
}
static long term(void)
{
    long v = factor();
    while (*pos == '*') {
        pos++;
        v *= factor();
    }
    return v;
}
static long expr(void)
{
    long v = term();
    while (*pos == '+' || *pos == '-') {
        char op = *pos++;
        long r = term();
        v = op == '+' ? v + r : v - r;
    }
    return v;
}

int main(void)
{
    out_kv("ack(2,3)", ack(2, 3));
    out_kv("ack(3,5)", ack(3, 5));
    long f = fib(20);
    out_kv("fib(20)", f);
    hanoi(16, 1, 3, 2);
    out_kv("hanoi(16)", moves);
    out_kv("is_even(1001)", is_even(1001));
    out_kv("is_odd(777)", is_odd(777));
    pos = "(1+2)*(3+4)-5*(6-(7-8))+9";
    out_kv("expr", expr());
    return (int)(f % 128);
}
