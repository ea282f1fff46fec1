; payload_pic.asm -- the start of the decoder under --wx, where the file may
; load above 4 GiB (layout overlap80): rsi = the payload, RIP-relative.
section .text
extern __payload
    lea rsi, [rip + __payload]
