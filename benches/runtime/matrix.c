/* matrix.c -- matrix arithmetic: integer products modulo a prime, a
 * transpose, a matrix power, and double-precision Gaussian elimination. */
#include "rt.h"

#ifndef MATRIX_ROUNDS
#define MATRIX_ROUNDS 600
#endif
#define N 48
#define P 1000003UL

static u64 ma[N][N], mb[N][N], mc[N][N];
static double da[N][N];

__attribute__((noinline)) static void mat_mul(u64 (*c)[N], u64 (*a)[N], u64 (*b)[N])
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            u64 s = 0;
            for (int k = 0; k < N; k++)
                s += a[i][k] * b[k][j] % P;
            c[i][j] = s % P;
        }
}

__attribute__((noinline)) static void transpose(u64 (*a)[N])
{
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            u64 t = a[i][j];
            a[i][j] = a[j][i];
            a[j][i] = t;
        }
}

__attribute__((noinline)) static void copy(u64 (*d)[N], u64 (*s)[N])
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            d[i][j] = s[i][j];
}

__attribute__((noinline)) static double det(void)
{
    double d = 1.0;
    for (int c = 0; c < N; c++) {
        int piv = c;
        for (int r = c + 1; r < N; r++)
            if ((da[r][c] < 0 ? -da[r][c] : da[r][c]) > (da[piv][c] < 0 ? -da[piv][c] : da[piv][c]))
                piv = r;
        if (da[piv][c] == 0.0)
            return 0.0;
        if (piv != c) {
            for (int k = 0; k < N; k++) {
                double t = da[c][k]; da[c][k] = da[piv][k]; da[piv][k] = t;
            }
            d = -d;
        }
        d *= da[c][c];
        for (int r = c + 1; r < N; r++) {
            double f = da[r][c] / da[c][c];
            for (int k = c; k < N; k++)
                da[r][k] -= f * da[c][k];
        }
    }
    return d;
}

__attribute__((noinline)) static u64 trace(u64 (*a)[N])
{
    u64 t = 0;
    for (int i = 0; i < N; i++)
        t += a[i][i];
    return t;
}

static u64 run_matrix(u64 seed)
{
    rng_state = seed | 1;
    u64 check = 0;
    for (int round = 0; round < MATRIX_ROUNDS; round++) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                ma[i][j] = rng() % P;
                mb[i][j] = rng() % P;
                da[i][j] = (double)(rng() % 1000) / 100.0 - 5.0;
            }
        mat_mul(mc, ma, mb);
        transpose(mc);
        copy(ma, mc);
        mat_mul(mc, ma, ma);
        check = check * 31 + trace(mc);
        double d = det();
        check ^= (u64)(long)(d / 1e30);
    }
    return check;
}

#ifndef MIX
BENCH_MAIN("matrix", run_matrix)
#endif
