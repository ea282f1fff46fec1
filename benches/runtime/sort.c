/* sort.c -- sorting integers: quicksort, heapsort, shellsort, insertion
 * sort, bottom-up merge sort; binary searches over the result. */
#include "rt.h"

#ifndef SORT_ROUNDS
#define SORT_ROUNDS 160
#endif
#define LEN 6000

static u32 arr[LEN], tmp[LEN];

static void fill(u32 *a, int n) { for (int i = 0; i < n; i++) a[i] = (u32)rng(); }

__attribute__((noinline)) static void insertion(u32 *a, int n)
{
    for (int i = 1; i < n; i++) {
        u32 v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}

__attribute__((noinline)) static void quick(u32 *a, int n)
{
    while (n > 16) {
        u32 p = a[n / 2];
        int i = 0, j = n - 1;
        for (;;) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i >= j) break;
            u32 t = a[i]; a[i] = a[j]; a[j] = t;
            i++; j--;
        }
        quick(a, j + 1);
        a += j + 1;
        n -= j + 1;
    }
    insertion(a, n);
}

static void sift(u32 *a, int i, int n)
{
    u32 v = a[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && a[c + 1] > a[c]) c++;
        if (a[c] <= v) break;
        a[i] = a[c];
        i = c;
    }
    a[i] = v;
}

__attribute__((noinline)) static void heap(u32 *a, int n)
{
    for (int i = n / 2 - 1; i >= 0; i--) sift(a, i, n);
    for (int i = n - 1; i > 0; i--) { u32 t = a[0]; a[0] = a[i]; a[i] = t; sift(a, 0, i); }
}

__attribute__((noinline)) static void shell(u32 *a, int n)
{
    static const int gaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};
    for (int g = 0; g < 9; g++) {
        int gap = gaps[g];
        for (int i = gap; i < n; i++) {
            u32 v = a[i];
            int j = i;
            while (j >= gap && a[j - gap] > v) { a[j] = a[j - gap]; j -= gap; }
            a[j] = v;
        }
    }
}

__attribute__((noinline)) static void merge_sort(u32 *a, u32 *t, int n)
{
    for (int w = 1; w < n; w *= 2) {
        for (int lo = 0; lo < n; lo += 2 * w) {
            int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi) t[k++] = a[i] <= a[j] ? a[i++] : a[j++];
            while (i < mid) t[k++] = a[i++];
            while (j < hi) t[k++] = a[j++];
        }
        for (int i = 0; i < n; i++) a[i] = t[i];
    }
}

__attribute__((noinline)) static int bsearch_u32(const u32 *a, int n, u32 v)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (a[mid] < v) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static u64 digest(const u32 *a, int n)
{
    u64 h = 0;
    for (int i = 0; i < n; i++) h = h * 1000003 + a[i];
    return h;
}

static u64 run_sort(u64 seed)
{
    rng_state = seed | 1;
    u64 check = 0;
    for (int round = 0; round < SORT_ROUNDS; round++) {
        fill(arr, LEN); quick(arr, LEN); check += digest(arr, LEN);
        fill(arr, LEN); heap(arr, LEN); check ^= digest(arr, LEN);
        fill(arr, LEN); shell(arr, LEN); check += digest(arr, LEN);
        fill(arr, LEN); merge_sort(arr, tmp, LEN); check ^= digest(arr, LEN);
        fill(arr, 600); insertion(arr, 600); check += digest(arr, 600);
        for (int i = 0; i < 2000; i++) check += bsearch_u32(arr, 600, (u32)rng());
    }
    return check;
}

#ifndef MIX
BENCH_MAIN("sort", run_sort)
#endif
