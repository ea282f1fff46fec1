; uncm.asm -- x86-64 decoder of tinyelf's `cm` format (docs/compress.md,
; tinyelf/compress/cm.py is the reference).
;
; Decodes the payload at __payload to __dest .. __end, then falls through
; into the exit stub.  Model i's counters (n0, n1 byte pairs) are at
; __table + i MiB (zero: the outer file's bss).  A model's context is hashed
; once per byte, not once per bit: into a slot index h (18 bits); the byte's
; bits then use slots h + c0 (within 512 bytes).  Relies on the kernel's start state
; (registers zero, direction flag clear); leaves rsp as it was and rdx zero.
;
;   rsi  coder input      rdi  output (the 8 bytes before it: the contexts)
;   r10d range   r11d value (the arithmetic decoder)
;   r12  s0   r13  s1 (the counts, weighted)    r14d models   r15 hash multiplier
;   ebp  c0, the bits of the current byte behind a leading 1
;   r8   the payload (its (mask, weight) pairs)
;   [rsp + 8 * i]  model i's table + 2 * h for the current byte
section .text
global _start
extern __dest
extern __end
extern __table
_start:                         ; rsi = the payload (payload.asm or payload_pic.asm)
    push rsi
    pop r8
    lodsb                       ; M, the number of models
    mov r14d, eax
    lea rsi, [rsi + rax*2]      ; skip the (mask, weight) pairs
    lodsd
    bswap eax
    mov r11d, eax               ; value: the first 4 bytes, big-endian
    or r10d, -1                 ; range
    mov r15, 0x9E3779B97F4A7C15
    mov edi, __dest
byte_loop:                      ; each model's slot base for this byte, pushed
    mov ebx, r14d               ; model ebx - 1, last to first
hash:
    mov dl, byte [r8 + rbx*2 - 1]   ; its mask: bit j keeps byte j of [rdi-8]
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
    imul rax, r15               ; h = ctx * K >> 46

    shr rax, 46
    mov edx, ebx
    shl edx, 20
    lea rax, [rax*2 + rdx + __table - 0x100000]   ; in this model's table
    or byte [rax], 0            ; a write: one page fault for a new page, not a read's and a write's
    push rax
    dec ebx
    jnz hash
    push 1
    pop rbp
bit_loop:
    xor r12d, r12d
    xor r13d, r13d
    mov ebx, r14d
model:
    mov rax, qword [rsp + rbx*8 - 8]
    movzx edx, byte [rax + rbp*2]       ; n0
    movzx eax, byte [rax + rbp*2 + 1]   ; n1
    mov cl, byte [r8 + rbx*2]           ; weight
    cmp dl, 1                   ; a zero count: weight + 1
    adc cl, 0
    cmp al, 1
    adc cl, 0
    shl rdx, cl
    shl rax, cl
    add r12, rdx
    add r13, rax
    dec ebx
    jnz model
    lea rax, [r13 + 1]          ; bound = range * (s1 + 1) / (s0 + s1 + 2)
    imul rax, r10
    lea rcx, [r12 + r13 + 2]
    xor edx, edx
    div rcx
    xor edx, edx
    cmp r11d, eax
    jae bit_zero
    inc edx                     ; y = 1: range = bound
    mov r10d, eax
    jmp normalize
bit_zero:
    sub r11d, eax               ; y = 0: value -= bound, range -= bound
    sub r10d, eax
normalize:                      ; while range < 2**24
    cmp r10d, 0x1000000
    jae update
    shl r10d, 8
    shl r11d, 8
    lodsb
    mov r11b, al
    jmp normalize
update:
    lea r12, [rdx + rbp*2]      ; the counter n_y's offset from a slot base
    mov ebx, r14d
update_model:
    mov rax, qword [rsp + rbx*8 - 8]
    add rax, r12                ; n_y += 1, at most 255
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
    lea rsp, [rsp + r14*8]      ; the byte's slot bases
    xchg eax, ebp
    stosb
    cmp edi, __end
    jb byte_loop
    xor edx, edx
