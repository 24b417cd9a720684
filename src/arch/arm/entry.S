@ src/arch/arm/entry.S - exception vectors, pt_regs frames, kernel recovery points.
@
@ Every exception ends up in SVC mode with a struct pt_regs (18 words:
@ r0-r12, sp, lr, pc, cpsr, ORIG_r0) on the current task's kernel stack,
@ then calls Rust: handle_exception(regs, kind) or handle_syscall(regs).
@ The banked modes (IRQ, ABT, UND, FIQ) only hold 16 bytes of scratch.

    .syntax unified
    .arm
    .arch armv7-a

    .equ MODE_USR, 0x10
    .equ MODE_SVC, 0x13
    .equ S_FRAME_SIZE, 72
    .equ S_SP, 52
    .equ S_LR, 56
    .equ S_PC, 60
    .equ S_PSR, 64
    .equ S_OLD_R0, 68

    @ Exception kinds, as arch::arm::traps::ExceptionKind numbers them.
    .equ K_UND, 1
    .equ K_SWI, 2
    .equ K_PABT, 3
    .equ K_DABT, 4
    .equ K_IRQ, 5
    .equ K_FIQ, 6
    .equ K_RESERVED, 7

    .section .vectors, "ax"
    .align  5
    .global vectors
vectors:
    b       vector_reserved         @ reset (never taken through VBAR)
    b       vector_und
    b       vector_swi
    b       vector_pabt
    b       vector_dabt
    b       vector_reserved         @ HYP trap: not used
    b       vector_irq
    b       vector_fiq

    @ vector_stub NAME, CORRECTION, KIND: from a banked mode to a pt_regs
    @ frame on the SVC stack, then handle_exception(frame, KIND).
    .macro vector_stub name, correction, kind
vector_\name:
    .if \correction
    sub     lr, lr, #\correction
    .endif
    stmia   sp, {r0, r1, lr}        @ scratch: r0, r1, return pc
    mrs     lr, spsr
    str     lr, [sp, #12]           @ scratch: interrupted cpsr
    mov     r0, sp
    cps     #MODE_SVC               @ interrupts stay masked
    mov     r1, sp                  @ r1 = SVC sp at the exception
    bic     sp, sp, #7              @ AAPCS: 8-byte aligned frame
    sub     sp, sp, #S_FRAME_SIZE
    stmia   sp, {r0-r12}            @ r0, r1 slots fixed just below
    ldmia   r0, {r2-r5}             @ r2 = r0, r3 = r1, r4 = pc, r5 = cpsr
    stmia   sp, {r2, r3}
    add     r0, sp, #S_SP
    and     r6, r5, #0x1f
    cmp     r6, #MODE_USR
    stmiaeq r0, {sp, lr}^           @ from user: the user sp and lr
    stmiane r0, {r1, lr}            @ from the kernel: SVC sp and lr
    nop
    add     r0, sp, #S_PC
    mvn     r6, #0                  @ ORIG_r0 = -1: not a system call
    stmia   r0, {r4, r5, r6}
    mov     r0, sp
    mov     r1, #\kind
    bl      handle_exception
    b       ret_from_exception
    .endm

    vector_stub und, 4, K_UND
    vector_stub pabt, 4, K_PABT
    vector_stub dabt, 8, K_DABT
    vector_stub irq, 4, K_IRQ
    vector_stub fiq, 4, K_FIQ
    vector_stub reserved, 0, K_RESERVED

    @ SVC: already in SVC mode; lr = the instruction after the svc.
vector_swi:
    sub     sp, sp, #S_FRAME_SIZE
    stmia   sp, {r0-r12}
    mrs     r9, spsr
    add     r8, sp, #S_SP
    and     r10, r9, #0x1f
    cmp     r10, #MODE_USR
    bne     swi_from_kernel
    stmia   r8, {sp, lr}^           @ user sp, lr
    nop
    str     lr, [sp, #S_PC]
    str     r9, [sp, #S_PSR]
    str     r0, [sp, #S_OLD_R0]
    mov     r0, sp
    bl      handle_syscall
    b       ret_from_exception

    @ An svc from kernel mode: a semihosting call on a machine that has
    @ no semihosting (QEMU without -semihosting, real boards). The caller's
    @ lr is already lost (the exception wrote the return address over it);
    @ arch::arm::semihosting only issues svc from a frame that saved lr.
swi_from_kernel:
    add     r10, sp, #S_FRAME_SIZE
    str     r10, [sp, #S_SP]
    str     lr, [sp, #S_LR]
    str     lr, [sp, #S_PC]
    str     r9, [sp, #S_PSR]
    mvn     r10, #0
    str     r10, [sp, #S_OLD_R0]
    mov     r0, sp
    mov     r1, #K_SWI
    bl      handle_exception
    @ fall through

    @ Return through the pt_regs frame at sp.
    .global ret_from_exception
ret_from_exception:
    cpsid   i
    ldr     r1, [sp, #S_PSR]
    and     r2, r1, #0x1f
    cmp     r2, #MODE_USR
    beq     ret_to_user
    msr     spsr_cxsf, r1
    ldmia   sp, {r0-pc}^            @ r0-r12, sp, lr, pc; cpsr = spsr
ret_to_user:
    msr     spsr_cxsf, r1
    ldr     lr, [sp, #S_PC]
    ldmia   sp, {r0-lr}^            @ r0-r12 and the user sp, lr
    nop
    add     sp, sp, #S_FRAME_SIZE
    movs    pc, lr

    .text
    @ u32 arch_try_call(void (*f)(void *), void *arg, u32 *slot)
    @ Calls f(arg) and returns 0, after storing in *slot the stack pointer
    @ that arch_recover() needs to abandon f and make this call return a
    @ non-zero code instead (a fault, a panic or a watchdog in f).
    .global arch_try_call
arch_try_call:
    push    {r3-r11, lr}
    str     sp, [r2]
    mov     r12, r0
    mov     r0, r1
    blx     r12
    mov     r0, #0
    pop     {r3-r11, pc}

    @ User-memory access with an exception-table fixup, as Linux's
    @ __get_user_4 / __put_user_4: a fault on the marked instruction that
    @ the page-fault code cannot resolve resumes at the fixup, which
    @ returns -EFAULT. Nothing is set up on the way in; the caller has
    @ checked that the address is a user one.
    @ i32 __get_user_4(u32 addr, u32 *val): 0 and *val = the word, or -EFAULT.
    .global __get_user_4
__get_user_4:
1:  ldr     r2, [r0]
    str     r2, [r1]
    mov     r0, #0
    bx      lr
    .pushsection __ex_table, "a"
    .long   1b, 9f
    .popsection

    @ i32 __put_user_4(u32 val, u32 addr): 0, or -EFAULT.
    .global __put_user_4
__put_user_4:
2:  str     r0, [r1]
    mov     r0, #0
    bx      lr
    .pushsection __ex_table, "a"
    .long   2b, 9f
    .popsection

9:  mvn     r0, #13             @ -EFAULT (-14)
    bx      lr

    @ void arch_recover(u32 slot_sp, u32 code) -> !
    .global arch_recover
arch_recover:
    mov     sp, r0
    mov     r0, r1
    pop     {r3-r11, pc}

    @ u32 arch_semihost(u32 op, u32 param): a semihosting trap issued from
    @ a frame that has saved lr, so the SVC exception taken on a machine
    @ without semihosting clobbers nothing the caller needs.
    .global arch_semihost
arch_semihost:
    push    {r4, lr}
    svc     0x123456
    pop     {r4, pc}

    @ ThreadInfo *__switch_to(ThreadInfo *prev, ThreadInfo *next)
    @ Saves prev's callee-saved registers, sp and return address in its
    @ thread_info's cpu_context (offset 16), loads next's, and returns in
    @ next's context with r0 = prev (the task switched away from).
    .equ TI_CPU_SAVE, 16
    .equ TI_TP_VALUE, 56
    @ Lazy VFP (arch::arm::vfp): the unit keeps its owner's registers; if
    @ prev owns it, FPEXC.EN goes off (next's first VFP instruction traps);
    @ if next owns it, EN comes back on. Nothing is saved here. Without a
    @ VFP unit the owner is always null and FPEXC is never touched.
    .global __switch_to
__switch_to:
    add     ip, r0, #TI_CPU_SAVE
    stmia   ip, {r4 - r11, sp, lr}
    ldr     ip, [r1, #TI_TP_VALUE]
    mcr     p15, 0, ip, c13, c0, 3  @ TPIDRURO: the user TLS value of next
    ldr     r2, =vfp_current_hw_state
    ldr     r2, [r2]
    cmp     r2, r0
    beq     vfp_switch_off
    cmp     r2, r1
    beq     vfp_switch_on
switch_to_next:
    add     ip, r1, #TI_CPU_SAVE
    ldmia   ip, {r4 - r11, sp, pc}
    .fpu    neon
vfp_switch_off:
    mov     r3, #0
    vmsr    fpexc, r3
    b       switch_to_next
vfp_switch_on:
    mov     r3, #0x40000000         @ FPEXC.EN
    vmsr    fpexc, r3
    b       switch_to_next
    .ltorg

    @ Where a new task starts (copy_thread points cpu_context.pc here).
    @ r0 = the task switched from; r4 = function, r5 = argument for a kernel
    @ thread; r4 = 0 for a child returning to user mode through the pt_regs
    @ frame copy_thread put at its sp.
    .global ret_from_fork
ret_from_fork:
    bl      schedule_tail
    cmp     r4, #0
    beq     ret_from_exception
    mov     r0, r5
    blx     r4
    bl      kthread_exit            @ never returns
1:  b       1b

    @ void *memcpy(void *dst, const void *src, size_t n)
    @ The kernel's memcpy (it overrides compiler_builtins' portable one):
    @ 32 bytes per ldm/stm pair when both pointers are word-aligned, else
    @ word by word with unaligned ldr/str (ARMv7 allows them on normal
    @ memory with SCTLR.A clear), then bytes. Normal memory only: MMIO goes
    @ through volatile accesses, never memcpy.
    .global memcpy
    .global __aeabi_memcpy
    .global __aeabi_memcpy4
    .global __aeabi_memcpy8
__aeabi_memcpy:
__aeabi_memcpy4:
__aeabi_memcpy8:
memcpy:
    mov     ip, r0                  @ keep dst for the return value
    orr     r3, r0, r1
    tst     r3, #3
    bne     2f                      @ not both word-aligned: words, unaligned
    push    {r4 - r10}
1:  subs    r2, r2, #32
    ldmiage r1!, {r3 - r10}
    stmiage ip!, {r3 - r10}
    bgt     1b
    pop     {r4 - r10}
    addlt   r2, r2, #32             @ undo the last subtraction (if negative)
2:  subs    r2, r2, #4
    ldrge   r3, [r1], #4
    strge   r3, [ip], #4
    bgt     2b
    addlt   r2, r2, #4
3:  subs    r2, r2, #1
    ldrbge  r3, [r1], #1
    strbge  r3, [ip], #1
    bgt     3b
    bx      lr

    @ void *memset(void *dst, int c, size_t n), and the EABI variants
    @ (__aeabi_memset(dst, n, c), __aeabi_memclr(dst, n)): bytes up to a
    @ word boundary, 32 bytes per stmia, words, then bytes.
    .global memset
    .global __aeabi_memset
    .global __aeabi_memset4
    .global __aeabi_memset8
    .global __aeabi_memclr
    .global __aeabi_memclr4
    .global __aeabi_memclr8
__aeabi_memclr:
__aeabi_memclr4:
__aeabi_memclr8:
    mov     r2, #0
__aeabi_memset:
__aeabi_memset4:
__aeabi_memset8:
    mov     r3, r1                  @ (dst, n, c) -> (dst, c, n)
    mov     r1, r2
    mov     r2, r3
memset:
    mov     ip, r0
    and     r1, r1, #0xff
    orr     r1, r1, r1, lsl #8
    orr     r1, r1, r1, lsl #16     @ the byte in all four lanes
1:  tst     ip, #3                  @ bytes up to a word boundary
    beq     2f
    subs    r2, r2, #1
    bxlt    lr
    strb    r1, [ip], #1
    b       1b
2:  push    {r4 - r9}
    mov     r3, r1
    mov     r4, r1
    mov     r5, r1
    mov     r6, r1
    mov     r7, r1
    mov     r8, r1
    mov     r9, r1
3:  subs    r2, r2, #32
    stmiage ip!, {r1, r3 - r9}
    bgt     3b
    pop     {r4 - r9}
    addlt   r2, r2, #32
4:  subs    r2, r2, #4
    strge   r1, [ip], #4
    bgt     4b
    addlt   r2, r2, #4
5:  subs    r2, r2, #1
    strbge  r1, [ip], #1
    bgt     5b
    bx      lr
