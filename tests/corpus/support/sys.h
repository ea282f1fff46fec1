/*
 * sys.h -- raw Linux x86-64, i386, arm64 and riscv64 syscalls and tiny output helpers for the corpus.
 * No libc.  The helpers (io.c) and mem.c live in the support archive
 * libsupport.a that every C variant links; start.c supplies _start for
 * programs written with main().
 */
#ifndef CORPUS_SYS_H
#define CORPUS_SYS_H

typedef unsigned long size_t;
typedef long ssize_t;
typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef unsigned char u8;

#if defined(__i386__)
/* i386: int 0x80, eax = number, ebx/ecx/edx = arguments */
static inline long sys_call3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile ("int $0x80" : "=a"(ret) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

static inline ssize_t sys_read(int fd, void *buf, size_t n) { return sys_call3(3, fd, (long)buf, (long)n); }
static inline ssize_t sys_write(int fd, const void *buf, size_t n) { return sys_call3(4, fd, (long)buf, (long)n); }

static inline __attribute__((noreturn)) void sys_exit(int status)
{
    __asm__ volatile ("int $0x80" : : "a"(1L), "b"((long)status) : "memory");
    __builtin_unreachable();
}
#elif defined(__aarch64__) || defined(__riscv)
/* arm64 and riscv64 share the generic syscall numbers: read 63, write 64, exit 93 */
#if defined(__aarch64__)
#define SYS_REG_N "x8"
#define SYS_REG_A "x0"
#define SYS_REG_B "x1"
#define SYS_REG_C "x2"
#define SYS_INSN "svc #0"
#else
#define SYS_REG_N "a7"
#define SYS_REG_A "a0"
#define SYS_REG_B "a1"
#define SYS_REG_C "a2"
#define SYS_INSN "ecall"
#endif
static inline long sys_call3(long n, long a, long b, long c)
{
    register long rn __asm__(SYS_REG_N) = n;
    register long ra __asm__(SYS_REG_A) = a;
    register long rb __asm__(SYS_REG_B) = b;
    register long rc __asm__(SYS_REG_C) = c;
    __asm__ volatile (SYS_INSN : "+r"(ra) : "r"(rn), "r"(rb), "r"(rc) : "memory");
    return ra;
}

static inline ssize_t sys_read(int fd, void *buf, size_t n) { return sys_call3(63, fd, (long)buf, (long)n); }
static inline ssize_t sys_write(int fd, const void *buf, size_t n) { return sys_call3(64, fd, (long)buf, (long)n); }

static inline __attribute__((noreturn)) void sys_exit(int status)
{
    sys_call3(93, status, 0, 0);
    __builtin_unreachable();
}
#else
static inline long sys_call3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c)
                      : "rcx", "r11", "memory");
    return ret;
}

static inline ssize_t sys_read(int fd, void *buf, size_t n) { return sys_call3(0, fd, (long)buf, (long)n); }
static inline ssize_t sys_write(int fd, const void *buf, size_t n) { return sys_call3(1, fd, (long)buf, (long)n); }

static inline __attribute__((noreturn)) void sys_exit(int status)
{
    __asm__ volatile ("syscall" : : "a"(60L), "D"((long)status) : "rcx", "r11", "memory");
    __builtin_unreachable();
}
#endif

/* io.c: unbuffered output to stdout. */
void out_str(const char *s);          /* NUL-terminated string */
void out_mem(const void *p, size_t n);
void out_char(char c);
void out_u64(u64 v);                  /* decimal */
void out_i64(i64 v);                  /* decimal, with '-' */
void out_hex(u64 v);                  /* 0x... lowercase */
void out_kv(const char *key, i64 v);  /* "key=v\n" */

/* mem.c */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
