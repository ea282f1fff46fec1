/* mix.c -- the four C programs in one (the ~14 KB program of issue 16):
 * lists, matrices, the state machine with its CRCs, sorting. */
#define MIX
#ifndef LISTS_ROUNDS
#define LISTS_ROUNDS 500
#endif
#ifndef MATRIX_ROUNDS
#define MATRIX_ROUNDS 150
#endif
#ifndef FSM_ROUNDS
#define FSM_ROUNDS 220
#endif
#ifndef SORT_ROUNDS
#define SORT_ROUNDS 40
#endif
#define merge_sort list_merge_sort
#include "lists.c"
#undef merge_sort
#undef N
#include "matrix.c"
#include "fsm.c"
#include "sort.c"

static u64 run_mix(u64 seed)
{
    return run_lists(seed) ^ run_matrix(seed + 1) * 3 ^ run_fsm(seed + 2) * 5 ^ run_sort(seed + 3) * 7;
}

BENCH_MAIN("mix", run_mix)
