/* fsm.c -- a tokenizer state machine over generated text, and CRCs
 * (CRC-32 table-driven and bitwise, CRC-16/CCITT). */
#include "rt.h"

#ifndef FSM_ROUNDS
#define FSM_ROUNDS 900
#endif
#define TEXT 16384

static u8 text[TEXT];
static u32 crc_table[256];

enum state { S_SPACE, S_WORD, S_NUMBER, S_STRING, S_ESCAPE, S_COMMENT, S_OP };

struct counts { u64 words, numbers, strings, comments, ops, lines, hash; };

__attribute__((noinline)) static void gen_text(void)
{
    static const char pieces[][8] = {"foo ", "bar42 ", "\"s\\\"t\" ", "# c\n", "+= ", "123 ",
                                     "\n", "x_y ", "\"q\" ", "<<= ", "9z ", "( ) "};
    int n = 0;
    while (n < TEXT) {
        const char *p = pieces[rng() % 12];
        while (*p && n < TEXT)
            text[n++] = (u8)*p++;
    }
}

__attribute__((noinline)) static void tokenize(const u8 *s, int n, struct counts *c)
{
    enum state st = S_SPACE;
    u64 h = 0;
    for (int i = 0; i < n; i++) {
        u8 ch = s[i];
        switch (st) {
        case S_SPACE:
        space:
            if (ch == '\n') c->lines++;
            else if ((ch | 32) >= 'a' && (ch | 32) <= 'z') { st = S_WORD; c->words++; h = h * 33 + ch; }
            else if (ch >= '0' && ch <= '9') { st = S_NUMBER; c->numbers++; }
            else if (ch == '"') { st = S_STRING; c->strings++; }
            else if (ch == '#') { st = S_COMMENT; c->comments++; }
            else if (ch != ' ' && ch != '\t') { st = S_OP; c->ops++; }
            break;
        case S_WORD:
            if ((ch | 32) >= 'a' && (ch | 32) <= 'z') h = h * 33 + ch;
            else if ((ch >= '0' && ch <= '9') || ch == '_') h = h * 37 + ch;
            else { st = S_SPACE; goto space; }
            break;
        case S_NUMBER:
            if (ch >= '0' && ch <= '9') h += ch;
            else if ((ch | 32) >= 'a' && (ch | 32) <= 'z') { st = S_WORD; h ^= ch; }
            else { st = S_SPACE; goto space; }
            break;
        case S_STRING:
            if (ch == '\\') st = S_ESCAPE;
            else if (ch == '"') st = S_SPACE;
            else h += ch << 3;
            break;
        case S_ESCAPE:
            st = S_STRING;
            break;
        case S_COMMENT:
            if (ch == '\n') { st = S_SPACE; c->lines++; }
            break;
        case S_OP:
            if (ch == '=' || ch == '<' || ch == '>') h += 7;
            else { st = S_SPACE; goto space; }
            break;
        }
    }
    c->hash += h;
}

__attribute__((noinline)) static void crc32_init(void)
{
    for (u32 i = 0; i < 256; i++) {
        u32 c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

__attribute__((noinline)) static u32 crc32_table(const u8 *s, int n)
{
    u32 c = 0xFFFFFFFFu;
    for (int i = 0; i < n; i++)
        c = crc_table[(c ^ s[i]) & 0xFF] ^ (c >> 8);
    return ~c;
}

__attribute__((noinline)) static u32 crc32_bitwise(const u8 *s, int n)
{
    u32 c = 0xFFFFFFFFu;
    for (int i = 0; i < n; i++) {
        c ^= s[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & -(c & 1));
    }
    return ~c;
}

__attribute__((noinline)) static u16 crc16(const u8 *s, int n)
{
    u16 c = 0xFFFF;
    for (int i = 0; i < n; i++) {
        c ^= (u16)(s[i] << 8);
        for (int k = 0; k < 8; k++)
            c = c & 0x8000 ? (u16)((c << 1) ^ 0x1021) : (u16)(c << 1);
    }
    return c;
}

static u64 run_fsm(u64 seed)
{
    rng_state = seed | 1;
    crc32_init();
    u64 check = 0;
    for (int round = 0; round < FSM_ROUNDS; round++) {
        gen_text();
        struct counts c = {0};
        tokenize(text, TEXT, &c);
        tokenize(text + 1, TEXT - 1, &c);
        check += c.words * 3 + c.numbers * 5 + c.strings * 7 + c.comments * 11 + c.ops * 13
                 + c.lines + c.hash;
        check ^= crc32_table(text, TEXT);
        check += crc32_bitwise(text, TEXT / 4);
        check ^= (u64)crc16(text, TEXT / 4) << 32;
    }
    return check;
}

#ifndef MIX
BENCH_MAIN("fsm", run_fsm)
#endif
