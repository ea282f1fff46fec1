/* args.c -- reads argv (and envp): echoes each argument reversed, sums the
 * numeric ones, counts environment entries.  Run with a fixed argv and an
 * empty environment.  Exit status: argc + (sum % 64). */
#include "../support/sys.h"

static long parse(const char *s, int *ok)
{
    long v = 0, sign = 1;
    if (*s == '-') {
        sign = -1;
        s++;
    }
    *ok = *s != 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            *ok = 0;
            return 0;
        }
        v = v * 10 + (*s - '0');
    }
    return sign * v;
}

int main(int argc, char **argv, char **envp)
{
    long sum = 0;
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        char rev[64];
        if (n > sizeof rev)
            n = sizeof rev;
        for (size_t j = 0; j < n; j++)
            rev[j] = argv[i][n - 1 - j];
        out_i64(i);
        out_str(": ");
        out_mem(rev, n);
        out_char('\n');
        int ok;
        long v = parse(argv[i], &ok);
        if (ok)
            sum += v;
    }
    int nenv = 0;
    while (envp[nenv])
        nenv++;
    out_kv("argc", argc);
    out_kv("sum", sum);
    out_kv("envc", nenv);
    return argc + (int)(((sum % 64) + 64) % 64);
}
