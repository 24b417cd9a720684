@ user/tests/clone.S - raw_clone(): clone(2) for the test programs. The
@ child may start on a new stack, where C code of the caller cannot run,
@ so the child calls fn(arg) here and exits (exit, one thread) with its
@ result. Linux ARM argument order: r0 flags, r1 newsp, r2 parent_tidptr,
@ r3 tls, r4 child_tidptr.
@
@ long raw_clone(unsigned flags, void *newsp, int *ptid, unsigned tls,
@                int *ctid, int (*fn)(void *), void *arg);
    .syntax unified
    .arm
    .global raw_clone
    .type raw_clone, %function
raw_clone:
    push    {r4, r5, r6, r7, r8, lr}
    ldr     r4, [sp, #24]           @ ctid
    ldr     r5, [sp, #28]           @ fn
    ldr     r6, [sp, #32]           @ arg
    mov     r7, #120                @ clone
    svc     #0
    cmp     r0, #0
    popne   {r4, r5, r6, r7, r8, pc}    @ the parent (or an error)
    mov     r0, r6                  @ the child
    blx     r5
    mov     r7, #1                  @ exit
    svc     #0
1:  b       1b
    .size raw_clone, . - raw_clone

    .section .note.GNU-stack,"",%progbits
