/* lists.c -- linked lists in a static node pool: sorted insertion, merge
 * sort, reversal, removal of duplicates, a search; repeated. */
#include "rt.h"

#ifndef LISTS_ROUNDS
#define LISTS_ROUNDS 2000
#endif
#define NODES 2000

struct node { struct node *next; u64 key; u64 val; };
static struct node pool[NODES];
static int pool_used;

static struct node *new_node(u64 key)
{
    struct node *n = &pool[pool_used++ % NODES];
    n->next = 0;
    n->key = key;
    n->val = key * 7 + 1;
    return n;
}

__attribute__((noinline)) static struct node *insert_sorted(struct node *head, struct node *n)
{
    struct node **pp = &head;
    while (*pp && (*pp)->key < n->key)
        pp = &(*pp)->next;
    n->next = *pp;
    *pp = n;
    return head;
}

__attribute__((noinline)) static struct node *reverse(struct node *head)
{
    struct node *prev = 0;
    while (head) {
        struct node *next = head->next;
        head->next = prev;
        prev = head;
        head = next;
    }
    return prev;
}

static struct node *merge(struct node *a, struct node *b)
{
    struct node dummy, *t = &dummy;
    while (a && b) {
        if (a->key <= b->key) { t->next = a; a = a->next; }
        else { t->next = b; b = b->next; }
        t = t->next;
    }
    t->next = a ? a : b;
    return dummy.next;
}

__attribute__((noinline)) static struct node *merge_sort(struct node *head)
{
    if (!head || !head->next)
        return head;
    struct node *slow = head, *fast = head->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    struct node *second = slow->next;
    slow->next = 0;
    return merge(merge_sort(head), merge_sort(second));
}

__attribute__((noinline)) static u64 dedupe(struct node *head)
{
    u64 removed = 0;
    while (head && head->next) {
        if (head->next->key == head->key) {
            head->next = head->next->next;
            removed++;
        } else {
            head = head->next;
        }
    }
    return removed;
}

__attribute__((noinline)) static u64 list_sum(const struct node *head)
{
    u64 s = 0, i = 1;
    for (; head; head = head->next, i++)
        s += head->val * i;
    return s;
}

__attribute__((noinline)) static const struct node *find(const struct node *head, u64 key)
{
    while (head && head->key != key)
        head = head->next;
    return head;
}

static u64 run_lists(u64 seed)
{
    rng_state = seed | 1;
    u64 check = 0;
    for (int round = 0; round < LISTS_ROUNDS; round++) {
        pool_used = 0;
        struct node *sorted = 0, *plain = 0;
        for (int i = 0; i < 300; i++)
            sorted = insert_sorted(sorted, new_node(rng() % 500));
        for (int i = 0; i < 1500; i++) {
            struct node *n = new_node(rng() % 1000);
            n->next = plain;
            plain = n;
        }
        plain = merge_sort(plain);
        check += dedupe(plain) + list_sum(plain);
        sorted = reverse(sorted);
        check ^= list_sum(sorted) << 1;
        check += find(plain, rng() % 1000) != 0;
    }
    return check;
}

#ifndef MIX
BENCH_MAIN("lists", run_lists)
#endif
