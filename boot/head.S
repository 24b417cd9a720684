@ boot/head.S - the ARMv7-A boot stub of armfork.
@
@ Entered as a Linux ARM zImage is: MMU off, caches off, r0 = 0,
@ r1 = machine number, r2 = physical address of a DTB or of ATAGs, in SVC
@ mode or in HYP mode, at whatever 4 KiB-aligned physical address the loader
@ chose (0x8000 on a Raspberry Pi, RAM + 0x10000 under QEMU, kernel_addr_r
@ under U-Boot). Until the MMU is on, every instruction here is position
@ independent: addresses are the loader's address plus link-time offsets.
@
@ What it does, in order:
@   1. leave HYP mode for SVC (timer and ID registers set up for PL1 first)
@   2. park every core but the boot core
@   3. clear .bss (which holds init_thread_union and the boot page tables)
@   4. build swapper_pg_dir: an identity section for this code, the image
@      at KIMAGE_VADDR with 4 KiB pages, and the boot-parameter window
@   5. invalidate caches, TLBs and branch predictor; set ACTLR.SMP
@   6. turn on the MMU with caches and jump to the image's link address
@   7. set the stacks of every exception mode and SVC, VBAR, and call
@      start_kernel(params_phys, machine, phys_offset, pgd_phys)

    .syntax unified
    .arm
    .arch armv7-a
    .arch_extension virt
    .arch_extension sec

    .equ MODE_USR, 0x10
    .equ MODE_FIQ, 0x11
    .equ MODE_IRQ, 0x12
    .equ MODE_SVC, 0x13
    .equ MODE_ABT, 0x17
    .equ MODE_HYP, 0x1a
    .equ MODE_UND, 0x1b
    .equ PSR_AIF,  0x1c0

    @ Short-descriptor entries, TEX remap off, domain 0.
    @ Section: normal memory, write-back write-allocate, shareable, kernel RW.
    .equ PMD_SECT_KERNEL, 0x1140e
    @ Section for the boot-parameter window: same but execute-never.
    .equ PMD_SECT_PARAMS, 0x1141e
    @ Coarse L2 table pointer.
    .equ PMD_TABLE, 0x1
    @ Small page: normal WBWA shareable, kernel RW (head.S maps it all RW;
    @ mm::mmu tightens text and rodata once Rust runs).
    .equ PTE_KERNEL, 0x45e
    @ TTBR attributes: inner WBWA (IRGN=01), outer WBWA (RGN=01), shareable.
    .equ TTBR_FLAGS, 0x4a

    .equ KIMAGE_VADDR, 0xf0000000
    .equ FIXMAP_PARAMS, 0xff000000
    .equ THREAD_START_SP, 8192 - 8

    .section .head.text, "ax"
    .global __zimage_head
__zimage_head:
    @ The zImage header: eight no-ops, a branch, then the words loaders
    @ (U-Boot's bootz, the Pi firmware) look for.
    .rept 8
    mov     r0, r0
    .endr
    b       stext
    .word   0x016f2818              @ 0x24: zImage magic
    .word   0                       @ 0x28: start (0: position independent)
    .word   __zimage_size           @ 0x2c: end (image size)
    .word   0x04030201              @ 0x30: little-endian marker
    .word   0x45454545              @ 0x34: extension table magic
    .word   0                       @ 0x38: no extension table

stext:
    mov     r8, r1                  @ r8 = machine number
    mov     r9, r2                  @ r9 = DTB / ATAG physical address

    @ 1. HYP -> SVC.
    mrs     r4, cpsr
    and     r5, r4, #0x1f
    cmp     r5, #MODE_HYP
    bne     1f
    mov     r5, #0
    mov     r6, #0
    mcrr    p15, 4, r5, r6, c14     @ CNTVOFF = 0: virtual time == physical time
    mrc     p15, 4, r5, c14, c1, 0  @ CNTHCTL
    orr     r5, r5, #3              @ PL1 may use the physical counter and timer
    mcr     p15, 4, r5, c14, c1, 0
    mov     r5, #0
    mcr     p15, 4, r5, c1, c1, 0   @ HCR = 0: trap nothing to HYP
    mcr     p15, 4, r5, c1, c1, 3   @ HSTR = 0
    mrc     p15, 0, r5, c0, c0, 0
    mcr     p15, 4, r5, c0, c0, 0   @ VPIDR = MIDR
    mrc     p15, 0, r5, c0, c0, 5
    mcr     p15, 4, r5, c0, c0, 5   @ VMPIDR = MPIDR
    mov     r5, #(MODE_SVC | PSR_AIF)
    msr     spsr_cxsf, r5
    adr     r5, 1f
    msr     elr_hyp, r5
    isb
    eret
1:  cpsid   aif, #MODE_SVC

    @ 2. Park secondary cores: MPIDR Aff0 != 0. (Aff1 is not looked at:
    @ the BCM2836 reports cluster 0xf for its only cluster.)
    mrc     p15, 0, r5, c0, c0, 5
    tst     r5, #(1 << 31)          @ multiprocessor format?
    beq     2f
    ands    r5, r5, #0xff
    beq     2f
park:
    wfe
    b       park
2:
    @ r4 = physical address of the image (of __zimage_head == _text).
    adr     r4, __zimage_head
    tst     r4, #0xff0
    tsteq   r4, #0x00f
    bne     park                    @ not 4 KiB aligned: cannot map it
    adr     r11, link_words         @ r11 -> link-time addresses

    @ 3. Clear .bss through its physical address.
    ldr     r0, [r11, #4]           @ __bss_start
    ldr     r1, [r11, #8]           @ __bss_stop
    ldr     r2, [r11, #0]           @ _text
    sub     r0, r0, r2
    sub     r1, r1, r2
    add     r0, r0, r4
    add     r1, r1, r4
    mov     r3, #0
3:  cmp     r0, r1
    strlo   r3, [r0], #4
    blo     3b

    @ 4. Page tables. r10 = swapper_pg_dir, 16 KiB aligned inside __pgtbl_area.
    ldr     r0, [r11, #12]          @ __pgtbl_area
    sub     r0, r0, r2
    add     r0, r0, r4
    add     r0, r0, #0x4000
    sub     r0, r0, #1
    bic     r10, r0, #0x3f00
    bic     r10, r10, #0x00ff

    @ 4a. Identity sections for the MiB this code runs in and the next.
    adr     r0, stext
    lsr     r0, r0, #20
    ldr     r1, =PMD_SECT_KERNEL
    orr     r3, r1, r0, lsl #20
    str     r3, [r10, r0, lsl #2]
    add     r0, r0, #1
    cmp     r0, #4096
    orrlo   r3, r1, r0, lsl #20
    strlo   r3, [r10, r0, lsl #2]

    @ 4b. The image at KIMAGE_VADDR: four coarse tables (4 MiB), 4 KiB pages.
    ldr     r0, [r11, #16]          @ __early_l2
    sub     r0, r0, r2
    add     r5, r0, r4              @ r5 = physical address of the L2 tables
    add     r6, r10, #(KIMAGE_VADDR >> 20) << 2
    mov     r7, #0
4:  add     r3, r5, r7, lsl #10
    orr     r3, r3, #PMD_TABLE
    str     r3, [r6, r7, lsl #2]
    add     r7, r7, #1
    cmp     r7, #4
    blo     4b
    ldr     r0, [r11, #20]          @ _end
    sub     r0, r0, r2
    add     r0, r0, #0xff0
    add     r0, r0, #0x00f
    lsr     r0, r0, #12             @ r0 = pages in the image, .bss included
    ldr     r1, =PTE_KERNEL
    orr     r1, r1, r4              @ first page's entry
    mov     r7, #0
5:  str     r1, [r5, r7, lsl #2]
    add     r1, r1, #0x1000
    add     r7, r7, #1
    cmp     r7, r0
    blo     5b

    @ 4c. Boot parameters: two sections at FIXMAP_PARAMS over r9's MiB.
    cmp     r9, #0
    beq     6f
    lsr     r0, r9, #20
    ldr     r1, =PMD_SECT_PARAMS
    orr     r3, r1, r0, lsl #20
    add     r6, r10, #(FIXMAP_PARAMS >> 20) << 2
    str     r3, [r6]
    add     r0, r0, #1
    cmp     r0, #4096
    orrlo   r3, r1, r0, lsl #20
    strlo   r3, [r6, #4]
6:
    @ 5. Caches, TLBs, predictor; ACTLR.SMP for coherent ldrex/strex.
    bl      v7_invalidate_l1d
    mov     r0, #0
    mcr     p15, 0, r0, c7, c5, 0   @ ICIALLU
    mcr     p15, 0, r0, c7, c5, 6   @ BPIALL
    mcr     p15, 0, r0, c8, c7, 0   @ TLBIALL
    dsb
    isb
    mrc     p15, 0, r0, c1, c0, 1   @ ACTLR
    tst     r0, #(1 << 6)
    orreq   r0, r0, #(1 << 6)
    mcreq   p15, 0, r0, c1, c0, 1

    @ 6. MMU on.
    ldr     r0, =0x55555555
    mcr     p15, 0, r0, c3, c0, 0   @ DACR: every domain client
    mov     r0, #0
    mcr     p15, 0, r0, c2, c0, 2   @ TTBCR = 0: TTBR0 translates everything for now
    orr     r0, r10, #TTBR_FLAGS
    mcr     p15, 0, r0, c2, c0, 0   @ TTBR0
    mcr     p15, 0, r0, c2, c0, 1   @ TTBR1
    dsb
    isb
    mrc     p15, 0, r0, c1, c0, 0   @ SCTLR
    bic     r0, r0, #(1 << 1)       @ A: unaligned accesses allowed
    bic     r0, r0, #(1 << 13)      @ V: vectors at VBAR
    bic     r0, r0, #(1 << 28)      @ TRE: TEX/C/B used directly
    bic     r0, r0, #(1 << 29)      @ AFE: AP[2:0] are plain permissions
    bic     r0, r0, #(1 << 25)      @ EE: little-endian exceptions
    bic     r0, r0, #(1 << 30)      @ TE: exceptions in ARM state
    orr     r0, r0, #(1 << 0)       @ M
    orr     r0, r0, #(1 << 2)       @ C
    orr     r0, r0, #(1 << 11)      @ Z
    orr     r0, r0, #(1 << 12)      @ I
    mcr     p15, 0, r0, c1, c0, 0
    isb
    ldr     pc, =__mmu_on           @ to the link address

    @ Invalidate the L1 data cache by set/way (its contents are unknown at
    @ reset on Cortex-A7/A15). Clobbers r0-r3, r5-r7, r12.
v7_invalidate_l1d:
    mov     r0, #0
    mcr     p15, 2, r0, c0, c0, 0   @ CSSELR: level 1, data
    isb
    mrc     p15, 1, r0, c0, c0, 0   @ CCSIDR
    and     r1, r0, #7
    add     r1, r1, #4              @ r1 = log2(line size in bytes)
    ubfx    r2, r0, #3, #10         @ r2 = ways - 1
    ubfx    r3, r0, #13, #15        @ r3 = sets - 1
    clz     r5, r2                  @ r5 = shift of the way field
7:  mov     r6, r3                  @ set counter
8:  lsl     r7, r2, r5
    orr     r7, r7, r6, lsl r1
    mcr     p15, 0, r7, c7, c6, 2   @ DCISW
    subs    r6, r6, #1
    bge     8b
    subs    r2, r2, #1
    bge     7b
    dsb
    bx      lr

    .align 2
link_words:
    .word   _text                   @ 0
    .word   __bss_start             @ 4
    .word   __bss_stop              @ 8
    .word   __pgtbl_area            @ 12
    .word   __early_l2              @ 16
    .word   _end                    @ 20
    .ltorg

    @ 7. Running at the link address.
    .text
    .global __mmu_on
__mmu_on:
    ldr     sp, =init_thread_union + THREAD_START_SP
    @ Each exception mode gets a 16-byte scratch stack: the vectors save
    @ r0, r1, the return address and SPSR there and move to SVC at once.
    cps     #MODE_IRQ
    ldr     sp, =__irq_stack
    cps     #MODE_ABT
    ldr     sp, =__abt_stack
    cps     #MODE_UND
    ldr     sp, =__und_stack
    cps     #MODE_FIQ
    ldr     sp, =__fiq_stack
    cps     #MODE_SVC
    ldr     r0, =vectors
    mcr     p15, 0, r0, c12, c0, 0  @ VBAR
    isb
    mov     r0, r9
    mov     r1, r8
    mov     r2, r4
    mov     r3, r10
    mov     fp, #0
    mov     lr, #0                  @ the bottom of every backtrace
    b       start_kernel
1:  wfi
    b       1b

    .bss
    .align  4
__irq_stack: .space 16
__abt_stack: .space 16
__und_stack: .space 16
__fiq_stack: .space 16
