@ user/start.S - _start for the test programs: Linux's initial stack has
@ argc at sp; pass sp to main_sp(), exit with its result.
    .syntax unified
    .arm
    .global _start
_start:
    mov     r0, sp
    bl      main_sp
    mov     r7, #1                  @ exit
    svc     #0
1:  b       1b

    .section .note.GNU-stack,"",%progbits
