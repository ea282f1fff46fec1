; uncm.asm -- x86-64 decoder of tinyelf's `cm` format (docs/compress.md,
; tinyelf/compress/cm.py is the reference).
;
; Decodes the payload at __payload to __dest .. __end, with one table of
; 2**21 two-byte counters per model at __table + model * 4 MiB (zero: the
; outer file's bss), then falls through into the exit stub.  Relies on the
; kernel's start state (registers zero, direction flag clear); leaves rsp as
; it was and rdx zero.
;
;   rsi  coder input      rdi  output (the 8 bytes before it: the contexts)
;   r9d  x1   r10d x2   r11d x (the arithmetic decoder)
;   r12  s0   r13  s1 (the counts, weighted)    r14d models   r15 hash multiplier
;   ebp  the bits of the current byte behind a leading 1 (c0)
section .text
global _start
extern __payload
extern __dest
extern __end
extern __table
_start:
    mov esi, __payload
    lodsb                       ; M, the number of models
    mov r14d, eax
    lea rsi, [rsi + rax*2]      ; skip the (mask, weight) pairs
    lodsd
    bswap eax
    mov r11d, eax               ; x: the first 4 bytes, big-endian
    or r10d, -1                 ; x2 (x1 = r9d = 0)
    mov r15, 0x9E3779B97F4A7C15
    mov edi, __dest
byte_loop:
    push 1
    pop rbp
bit_loop:
    xor r12d, r12d
    xor r13d, r13d
    mov ebx, r14d
model:                          ; for each model, last to first
    dec ebx
    mov dl, byte [rbx*2 + __payload + 1]    ; its mask: bit j keeps byte j of [rdi-8]
    push 8
    pop rcx
expand:
    shl rax, 8
    add dl, dl
    jnc expand_next
    mov al, 0xff
expand_next:
    loop expand
    and rax, qword [rdi - 8]
    imul rax, r15
    add rax, rbp
    imul rax, r15
    shr rax, 43                 ; the slot's index, 21 bits
    lea rax, [rax*2 + __table]
    mov edx, ebx
    shl edx, 22
    add rax, rdx                ; this model's table
    push rax
    movzx edx, byte [rax]       ; n0
    movzx eax, byte [rax + 1]   ; n1
    mov cl, byte [rbx*2 + __payload + 2]    ; weight
    shl rdx, cl
    shl rax, cl
    add r12, rdx
    add r13, rax
    test ebx, ebx
    jnz model
    lea rax, [r13 + r13 + 1]    ; p1 = ((2*s1 + 1) << 15) / (s0 + s1 + 1)
    shl rax, 15
    lea rcx, [r12 + r13 + 1]
    xor edx, edx
    div rcx
    mov ecx, r10d
    sub ecx, r9d
    imul rax, rcx
    shr rax, 16
    add eax, r9d                ; xmid = x1 + (x2 - x1) * p1 >> 16
    xor edx, edx
    cmp r11d, eax
    ja bit_zero
    inc edx                     ; y = 1: x2 = xmid
    mov r10d, eax
    jmp normalize
bit_zero:
    inc eax                     ; y = 0: x1 = xmid + 1
    mov r9d, eax
normalize:                      ; while x1 and x2 share their top byte
    mov eax, r9d
    xor eax, r10d
    shr eax, 24
    jnz update
    shl r9d, 8
    shl r10d, 8
    mov r10b, 0xff
    shl r11d, 8
    lodsb
    mov r11b, al
    jmp normalize
update:
    mov ebx, r14d
update_model:
    pop rax
    add rax, rdx                ; n_y += 1, at most 255
    add byte [rax], 1
    sbb byte [rax], 0
    xor al, 1                   ; the other count: above 2, n/2 + 1
    mov cl, byte [rax]
    cmp cl, 2
    jbe update_next
    shr cl, 1
    inc ecx
    mov byte [rax], cl
update_next:
    dec ebx
    jnz update_model
    lea ebp, [rbp*2 + rdx]
    bt ebp, 8
    jnc bit_loop
    xchg eax, ebp
    stosb
    cmp edi, __end
    jb byte_loop
    xor edx, edx
