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

@ Signal handlers return here (sa_restorer, SA_RESTORER): rt_sigreturn,
@ or sigreturn for a handler without SA_SIGINFO, as C libraries do it.
    .global sig_rt_restorer
    .type sig_rt_restorer, %function
sig_rt_restorer:
    mov     r7, #173                @ rt_sigreturn
    svc     #0
    .size sig_rt_restorer, . - sig_rt_restorer
    .global sig_restorer
    .type sig_restorer, %function
sig_restorer:
    mov     r7, #119                @ sigreturn
    svc     #0
    .size sig_restorer, . - sig_restorer

@ int kill_keeps_registers(int pid, int sig): sends the signal with r1-r3,
@ r12 and d0 (VFP) holding known values; a handler runs in between and
@ may change them all. 0 if every one came back, else a bit per register.
    .global kill_keeps_registers
    .type kill_keeps_registers, %function
    .fpu neon
kill_keeps_registers:
    push    {r4, r5, r7, lr}
    vpush   {d8}
    ldr     r2, =0x22222222
    ldr     r3, =0x33333333
    ldr     r12, =0xcccccccc
    ldr     r4, =0x3ff80000         @ 1.5 as a double: high word
    mov     r5, #0
    vmov    d0, r5, r4
    vmov    d8, r5, r4
    mov     r7, #37                 @ kill(pid, sig): r0, r1 are its arguments
    svc     #0
    mov     r0, #0
    ldr     r4, =0x22222222
    cmp     r2, r4
    orrne   r0, r0, #2
    ldr     r4, =0x33333333
    cmp     r3, r4
    orrne   r0, r0, #4
    ldr     r4, =0xcccccccc
    cmp     r12, r4
    orrne   r0, r0, #8
    vmov    r4, r5, d0
    cmp     r4, #0
    orrne   r0, r0, #16
    ldr     r4, =0x3ff80000
    cmp     r5, r4
    orrne   r0, r0, #16
    vmov    r4, r5, d8
    cmp     r4, #0
    orrne   r0, r0, #32
    ldr     r4, =0x3ff80000
    cmp     r5, r4
    orrne   r0, r0, #32
    vpop    {d8}
    pop     {r4, r5, r7, pc}
    .ltorg
    .size kill_keeps_registers, . - kill_keeps_registers

    .section .note.GNU-stack,"",%progbits
