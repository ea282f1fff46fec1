/* Fuzz seed: calls both ways, data in both objects, COMMON, weak, a jump table.
   x86-64 (syscall) and i386 (int 0x80, gcc -m32). */
#ifdef __i386__
#define SYS_WRITE 4
#define SYS_EXIT 1
static inline long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile ("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}
#else
#define SYS_WRITE 1
#define SYS_EXIT 60
static inline long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
#endif
extern int b_counter;
extern const char b_greeting[];
int b_add(int x);
int a_table[4] = {10, 20, 30, 40};
int shared_common;
__attribute__((weak)) extern int maybe_missing;
int a_double(int x) { return 2 * x + a_table[1]; }
__attribute__((weak)) int overridable(void) { return 1; }
int pick(int k) {
    switch (k) {
    case 0: return 3; case 1: return 9; case 2: return 27; case 3: return 81;
    case 4: return 5; case 5: return 25; default: return -1;
    }
}
void _start(void) {
    int v = b_add(5);
    sys3(SYS_WRITE, 1, (long)b_greeting, 6);
    shared_common += 3;
    sys3(SYS_EXIT, v + b_counter + overridable() + shared_common + pick(v & 7) + (&maybe_missing != 0), 0, 0);
}
