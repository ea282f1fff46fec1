/*
 * sys.h -- raw Linux x86-64 (and i386, for the -m32 variants) syscalls and tiny output helpers for the corpus.
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
