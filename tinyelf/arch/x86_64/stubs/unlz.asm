; unlz.asm -- x86-64 decoder of tinyelf's `lz` format (docs/compress.md).
;
; Runs first in a compressed executable: decodes the payload at
; __payload to __dest, then falls through into the exit stub (exit.asm or
; exit_wx.asm), which jumps to the program's entry.  It relies on the
; process state the kernel gives an ELF executable: every general register
; but rsp zero, the direction flag clear; it leaves rsp and rdx as they were.
;
;   rsi  stream (bytes and bit-buffer bytes)   rdi  output
;   al   bit buffer (a 1 bit marks its end)    ebp  last offset
;   ecx  numbers; rbx = getbit
section .text
global _start
extern __dest
_start:                         ; rsi = the payload (payload.asm or payload_pic.asm)
    mov edi, __dest
    mov al, 0x80
literals:
    call gamma
    rep movsb
    call getbit
    jc new_offset
    call gamma                  ; a match at the last offset
copy:
    push rsi
    mov esi, edi
    sub esi, ebp
    rep movsb
    pop rsi
    call getbit
    jnc literals
new_offset:
    call gamma                  ; offset's high byte + 1
    dec ecx
    mov ch, cl
    xchg eax, ecx               ; low byte: lodsb keeps the bit buffer (al)
    lodsb                       ; and the high byte (ah), rsi 64-bit (the
    xchg eax, ecx               ; file may lie above 4 GiB, overlap80)
    jrcxz done                  ; offset 0: the end (ecx's upper half is 0)
    mov ebp, ecx
    call gamma
    inc ecx                     ; length - 1
    jmp copy
gamma:
    push 1
    pop rcx
gamma_next:
    call getbit
    jc getbit_ret
    call getbit
    adc ecx, ecx
    jmp gamma_next
getbit:
    add al, al
    jnz getbit_ret
    lodsb
    adc al, al
getbit_ret:
    ret
done:
