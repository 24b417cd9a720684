@ user/builtin.S - small user programs built into the kernel, to exercise
@ user mode before the initramfs exists. ARM state, position independent
@ (copied to 0x8000 of a fresh address space); Linux ARM EABI system calls.

    .syntax unified
    .arm
    .section .rodata.user_programs, "a"
    .align 2

    .global user_hello_start
    .global user_hello_end
user_hello_start:
    mov     r7, #20                 @ getpid
    svc     #0
    mov     r4, r0
    mov     r0, #1                  @ write(1, msg, len)
    adr     r1, 1f
    mov     r2, #23                 @ strlen of the message
    mov     r7, #4
    svc     #0
    and     r0, r4, #0xff           @ exit(getpid() & 0xff)
    mov     r7, #1
    svc     #0
1:  .ascii  "# hello from user mode\n"
2:  .align 2
user_hello_end:

    .global user_segv_start
    .global user_segv_end
user_segv_start:
    mov     r0, #0
    ldr     r1, [r0]                @ NULL dereference
    mov     r7, #1
    svc     #0
user_segv_end:

    .global user_poke_kernel_start
    .global user_poke_kernel_end
user_poke_kernel_start:
    mov     r0, #0xf0000000         @ the kernel image
    ldr     r1, [r0]
    mov     r7, #1
    svc     #0
user_poke_kernel_end:

    .global user_write_text_start
    .global user_write_text_end
user_write_text_start:
    adr     r0, user_write_text_start
    str     r0, [r0]                @ text is read-only
    mov     r7, #1
    svc     #0
user_write_text_end:
