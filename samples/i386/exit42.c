/* i386 exit(42) in freestanding C: tinyelf build --arch i386 exit42.c -o exit42 */
void _start(void)
{
    __asm__ volatile ("int $0x80" : : "a"(1), "b"(42));
    __builtin_unreachable();
}
