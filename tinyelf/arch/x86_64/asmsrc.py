"""x86-64 assembly that tinyelf links into programs: its memcpy & co. (for
names nothing else defines: LLVM and gcc call them even in freestanding code,
and Rust's compiler_builtins does not define them on this target) and the start
stub for programs that define ``main``.  Size-optimised: string instructions
(the ABI guarantees the direction flag is clear on entry; memmove clears it
again).  The assembled forms are in prebuilt.py (tinyelf/arch/prebuilt.py).
"""

#: the System V x86-64 calling convention: rdi, rsi, rdx in; rax out
BUILTINS = {
    # void *memcpy(void *dst, const void *src, size_t n)
    "memcpy": """
        push rdi
        mov rcx, rdx
        rep movsb
        pop rax
        ret
    """,
    # void *memmove(void *dst, const void *src, size_t n): forward unless the
    # destination starts after the source, then backward from the last byte
    "memmove": """
        push rdi
        mov rcx, rdx
        cmp rdi, rsi
        jbe .Lcopy
        lea rsi, [rsi + rcx - 1]
        lea rdi, [rdi + rcx - 1]
        std
    .Lcopy:
        rep movsb
        cld
        pop rax
        ret
    """,
    # void *memset(void *dst, int c, size_t n)
    "memset": """
        push rdi
        xchg eax, esi
        mov rcx, rdx
        rep stosb
        pop rax
        ret
    """,
    # int memcmp(const void *a, const void *b, size_t n): -1, 0 or 1.
    # cmpsb sets the flags from [rsi] - [rdi], so a goes to rsi; with n == 0
    # the flags stay those of the xor (equal).
    "memcmp": """
        xor eax, eax
        mov rcx, rdx
        xchg rsi, rdi
        repe cmpsb
        seta al
        sbb eax, 0
        ret
    """,
    # int bcmp(const void *a, const void *b, size_t n): 0 when equal, else 1
    "bcmp": """
        xor eax, eax
        mov rcx, rdx
        repe cmpsb
        setne al
        ret
    """,
    # size_t strlen(const char *s): scan for the NUL with rcx counting down
    # from -1; it ends at -(len + 2)
    "strlen": """
        xor eax, eax
        push -1
        pop rcx
        repne scasb
        push -2
        pop rax
        sub rax, rcx
        ret
    """,
}


#: the start stub added when the inputs define main but no _start (tinyelf.linker.stub).
#: The kernel leaves argc at [rsp], argv at rsp+8, envp after argv's NULL;
#: the SysV ABI wants rsp 16-byte aligned at the call; main's int result is
#: the exit status.
START_STUB = """
section .text._start
global _start
extern main
_start:
    xor ebp, ebp
    mov edi, dword [rsp]
    lea rsi, [rsp + 8]
    lea rdx, [rsi + rdi*8 + 8]
    and rsp, -16
    call main
    mov edi, eax
    mov eax, 60
    syscall
"""
