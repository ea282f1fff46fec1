/* rodata.c -- const tables in .rodata: a CRC-32 table generated at compile
 * time by hand-unrolled macros, a const lookup table of structs, a 2-D
 * const array, and 20 KB of mostly-zero const data.  Exit status: crc & 0x7f. */
#include "../support/sys.h"

#define P 0xedb88320u
#define C1(c) (((c) >> 1) ^ ((0u - ((c) & 1u)) & P))   /* uses c twice: 2^8 growth */
#define C8(c) C1(C1(C1(C1(C1(C1(C1(C1(c))))))))
#define R4(n) C8(n), C8(n + 1), C8(n + 2), C8(n + 3)
#define R16(n) R4(n), R4(n + 4), R4(n + 8), R4(n + 12)
#define R64(n) R16(n), R16(n + 16), R16(n + 32), R16(n + 48)
static const u32 crc_table[256] = { R64(0u), R64(64u), R64(128u), R64(192u) };

static const struct { char code[4]; short value; } units[] = {
    { "km", 1000 }, { "m", 1 }, { "hm", 100 }, { "dam", 10 },
};

static const signed char grid[4][5] = {
    { 1, -2, 3, -4, 5 }, { 6, 7, -8, 9, 10 }, { -11, 12, 13, 14, -15 }, { 16, 17, 18, -19, 20 },
};

#define BIG 20000
static const u8 big_const[BIG] = { [0] = 1, [BIG / 2] = 2, [BIG - 1] = 3 };

static u32 crc32(const u8 *p, size_t n)
{
    u32 c = 0xffffffffu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

int main(void)
{
    static const char text[] = "The quick brown fox jumps over the lazy dog";
    u32 crc = crc32((const u8 *)text, sizeof text - 1);
    out_str("crc=");
    out_hex(crc);                   /* 0x414fa339 */
    out_char('\n');
    long t = 0;
    for (unsigned i = 0; i < 4; i++) {
        out_str(units[i].code);
        out_char(' ');
        out_i64(units[i].value);
        out_char('\n');
        for (int j = 0; j < 5; j++)
            t += grid[i][j] * (j + 1);
    }
    out_kv("grid", t);
    volatile size_t k = BIG / 2;
    out_kv("big", big_const[0] + big_const[k] * 10 + big_const[BIG - 1] * 100);
    out_str("crc_big=");
    out_hex(crc32(big_const, BIG));
    out_char('\n');
    return (int)(crc & 0x7f);
}
