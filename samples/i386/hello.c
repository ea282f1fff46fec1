/* i386 hello world in freestanding C: raw int 0x80 syscalls, no libc.
 *   tinyelf build --arch i386 hello.c -o hello */
static const char msg[] = "Hello, world!\n";

void _start(void)
{
    long ret;
    __asm__ volatile ("int $0x80" : "=a"(ret) : "a"(4), "b"(1), "c"(msg), "d"(sizeof msg - 1)
                      : "memory");
    __asm__ volatile ("int $0x80" : : "a"(1), "b"(0));
    __builtin_unreachable();
}
