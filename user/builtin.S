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

    @ fork: the child writes 99 over its copy of a stack word and exits 7;
    @ the parent waits, checks the status and that its word is still 5.
    @ Exit 42 on success, 1 on any failure.
    .global user_fork_start
    .global user_fork_end
user_fork_start:
    mov     r0, #5
    str     r0, [sp, #-8]!
    mov     r7, #2                  @ fork
    svc     #0
    cmp     r0, #0
    blt     9f
    bne     1f
    mov     r1, #99                 @ child
    str     r1, [sp]
    mov     r0, #7
    mov     r7, #1
    svc     #0
1:  mov     r4, r0                  @ parent: r4 = child's pid
    sub     sp, sp, #8
    mov     r0, r4
    mov     r1, sp                  @ &status
    mov     r2, #0
    mov     r3, #0
    mov     r7, #114                @ wait4
    svc     #0
    cmp     r0, r4
    bne     9f
    ldr     r1, [sp]
    cmp     r1, #0x700
    bne     9f
    add     sp, sp, #8
    ldr     r1, [sp]
    cmp     r1, #5
    bne     9f
    mov     r0, #42
    mov     r7, #1
    svc     #0
9:  mov     r0, #1
    mov     r7, #1
    svc     #0
user_fork_end:

    @ vfork: the child (sharing memory, on the parent's stack) writes 77 and
    @ exits 3; the parent, suspended until then, sees 77 and the status.
    @ Exit 43 on success, 1 on failure.
    .global user_vfork_start
    .global user_vfork_end
user_vfork_start:
    mov     r0, #5
    str     r0, [sp, #-8]!
    mov     r7, #190                @ vfork
    svc     #0
    cmp     r0, #0
    blt     9f
    bne     1f
    mov     r1, #77                 @ child
    str     r1, [sp]
    mov     r0, #3
    mov     r7, #1
    svc     #0
1:  mov     r4, r0
    ldr     r1, [sp]
    cmp     r1, #77
    bne     9f
    sub     sp, sp, #8
    mov     r0, r4
    mov     r1, sp
    mov     r2, #0
    mov     r3, #0
    mov     r7, #114
    svc     #0
    cmp     r0, r4
    bne     9f
    ldr     r1, [sp]
    cmp     r1, #0x300
    bne     9f
    mov     r0, #43
    mov     r7, #1
    svc     #0
9:  mov     r0, #1
    mov     r7, #1
    svc     #0
user_vfork_end:

    @ Benchmarks: r5 iterations of one system call (or of fork + exit +
    @ wait4), then exit 0. The _1 variants run once, to subtract start-up.
    .macro getppid_loop name, count
    .global \name\()_start
    .global \name\()_end
\name\()_start:
    ldr     r5, =\count
1:  mov     r7, #64                 @ getppid
    svc     #0
    subs    r5, r5, #1
    bne     1b
    mov     r0, #0
    mov     r7, #1
    svc     #0
    .ltorg
\name\()_end:
    .endm
    getppid_loop user_getppid_1000, 1001
    getppid_loop user_getppid_1, 1

    @ fork (nr 2) or vfork (nr 190) + child exit_group + parent wait4,
    @ `count` times (a vfork parent resumes once the child is gone).
    .macro fork_loop name, count, nr
    .global \name\()_start
    .global \name\()_end
\name\()_start:
    ldr     r5, =\count
    sub     sp, sp, #8
1:  mov     r7, #\nr
    svc     #0
    cmp     r0, #0
    bne     2f
    mov     r7, #248                @ child: exit_group(0)
    svc     #0
2:  mov     r1, sp                  @ parent: wait4(pid, &status, 0, 0)
    mov     r2, #0
    mov     r3, #0
    mov     r7, #114
    svc     #0
    subs    r5, r5, #1
    bne     1b
    mov     r0, #0
    mov     r7, #1
    svc     #0
    .ltorg
\name\()_end:
    .endm
    fork_loop user_fork_101, 101, 2
    fork_loop user_fork_1, 1, 2
    fork_loop user_vfork_101, 101, 190
    fork_loop user_vfork_1, 1, 190

    @ A thread as pthread_create makes one (CLONE_VM | FS | FILES | SIGHAND |
    @ THREAD | SYSVSEM | SETTLS | PARENT_SETTID | CHILD_CLEARTID), which
    @ exits at once; the parent joins it as pthread_join does: futex-wait
    @ on the child tid word until the kernel clears it. r5 times.
    .macro thread_loop name, count
    .global \name\()_start
    .global \name\()_end
\name\()_start:
    ldr     r5, =\count
    sub     sp, sp, #16             @ [sp, #4]: the thread's tid word (pthread's pd->tid)
1:  ldr     r0, =0x3d0f00           @ the pthread flags
    sub     r1, sp, #1024           @ the thread's stack (it never uses it)
    add     r2, sp, #4              @ parent_tidptr: the kernel writes the tid there...
    ldr     r3, =0x1234             @ tls
    add     r4, sp, #4              @ ...and clears it at the thread's exit (child_tidptr)
    mov     r7, #120                @ clone
    svc     #0
    cmp     r0, #0
    bne     2f
    mov     r0, #0                  @ thread: exit(0), this thread only
    mov     r7, #1
    svc     #0
2:  blt     9f
3:  ldr     r2, [sp, #4]            @ join: while (ctid) futex(&ctid, FUTEX_WAIT, ctid)
    cmp     r2, #0
    beq     4f
    add     r0, sp, #4
    mov     r1, #0
    mov     r3, #0
    mov     r7, #240
    svc     #0
    b       3b
4:  subs    r5, r5, #1
    bne     1b
    mov     r0, #0
    mov     r7, #1
    svc     #0
9:  mov     r0, #1
    mov     r7, #1
    svc     #0
    .ltorg
\name\()_end:
    .endm
    thread_loop user_thread_101, 101
    thread_loop user_thread_1, 1

    @ TLS: set_tls(0x1234), yield, read TPIDRURO back; then clone a thread
    @ sharing memory with CLONE_SETTLS(0xabcd) whose TPIDRURO must read
    @ 0xabcd while ours stays 0x1234. Exit 44 on success.
    .global user_tls_start
    .global user_tls_end
user_tls_start:
    ldr     r0, =0x1234
    ldr     r7, =0xf0005            @ set_tls
    svc     #0
    mov     r7, #158                @ sched_yield
    svc     #0
    mrc     p15, 0, r1, c13, c0, 3
    ldr     r2, =0x1234
    cmp     r1, r2
    bne     9f
    @ clone(CLONE_VM | CLONE_SETTLS | SIGCHLD, newsp = sp - 256, 0, tls, 0)
    ldr     r0, =0x00080111
    sub     r1, sp, #256
    mov     r2, #0
    ldr     r3, =0xabcd
    mov     r4, #0
    mov     r7, #120
    svc     #0
    cmp     r0, #0
    blt     9f
    bne     1f
    mrc     p15, 0, r1, c13, c0, 3  @ child: its own TLS
    ldr     r2, =0xabcd
    cmp     r1, r2
    moveq   r0, #5
    movne   r0, #6
    mov     r7, #1
    svc     #0
1:  mov     r4, r0                  @ parent: wait for it
    sub     sp, sp, #8
    mov     r1, sp
    mov     r2, #0
    mov     r3, #0
    mov     r7, #114
    svc     #0
    cmp     r0, r4
    bne     9f
    ldr     r1, [sp]
    cmp     r1, #0x500              @ the child saw 0xabcd
    bne     9f
    mrc     p15, 0, r1, c13, c0, 3
    ldr     r2, =0x1234
    cmp     r1, r2
    bne     9f
    mov     r0, #44
    mov     r7, #1
    svc     #0
9:  mov     r0, #1
    mov     r7, #1
    svc     #0
    .ltorg
user_tls_end:

    @ kill: fork a child that spins forever; kill(child, 0) succeeds,
    @ kill(child, SIGKILL) ends it; wait4 reports "killed by signal 9";
    @ kill(child, 0) on the reaped pid gives -ESRCH. Exit 45 on success.
    .global user_kill_start
    .global user_kill_end
user_kill_start:
    mov     r7, #2                  @ fork
    svc     #0
    cmp     r0, #0
    blt     9f
    bne     1f
2:  b       2b                      @ child: spin
1:  mov     r4, r0
    mov     r1, #0                  @ kill(pid, 0)
    mov     r7, #37
    svc     #0
    cmp     r0, #0
    bne     9f
    mov     r0, r4
    mov     r1, #9                  @ kill(pid, SIGKILL)
    mov     r7, #37
    svc     #0
    cmp     r0, #0
    bne     9f
    sub     sp, sp, #8
    mov     r0, r4
    mov     r1, sp
    mov     r2, #0
    mov     r3, #0
    mov     r7, #114                @ wait4
    svc     #0
    cmp     r0, r4
    bne     9f
    ldr     r1, [sp]
    cmp     r1, #9                  @ WIFSIGNALED, WTERMSIG 9
    bne     9f
    mov     r0, r4
    mov     r1, #0
    mov     r7, #37
    svc     #0
    cmn     r0, #3                  @ -ESRCH
    bne     9f
    mov     r0, #45
    mov     r7, #1
    svc     #0
9:  mov     r0, #1
    mov     r7, #1
    svc     #0
user_kill_end:

    @ brk: grow the heap by 64 KiB, fill it with 1, fork; the child fills
    @ it with 2 and exits 0; the parent checks its heap still holds 1s, then
    @ shrinks the heap back. Exit 46 on success.
    .global user_brk_start
    .global user_brk_end
user_brk_start:
    mov     r0, #0
    mov     r7, #45                 @ brk(0): the current end
    svc     #0
    mov     r4, r0                  @ r4 = heap start
    add     r0, r4, #0x10000
    mov     r7, #45
    svc     #0
    add     r1, r4, #0x10000
    cmp     r0, r1
    bne     9f
    mov     r2, r4                  @ fill with 1 (and check it was zero)
    mov     r3, #1
1:  ldr     r5, [r2]
    cmp     r5, #0
    bne     9f
    str     r3, [r2], #4
    cmp     r2, r1
    blo     1b
    mov     r7, #2                  @ fork
    svc     #0
    cmp     r0, #0
    blt     9f
    bne     3f
    mov     r2, r4                  @ child: fill with 2, exit 0
    mov     r3, #2
2:  str     r3, [r2], #4
    cmp     r2, r1
    blo     2b
    mov     r0, #0
    mov     r7, #1
    svc     #0
3:  mov     r6, r0                  @ parent: wait, then check the 1s
    sub     sp, sp, #8
    mov     r1, sp
    mov     r2, #0
    mov     r3, #0
    mov     r7, #114
    svc     #0
    cmp     r0, r6
    bne     9f
    add     r1, r4, #0x10000
    mov     r2, r4
4:  ldr     r5, [r2], #4
    cmp     r5, #1
    bne     9f
    cmp     r2, r1
    blo     4b
    mov     r0, r4                  @ shrink back
    mov     r7, #45
    svc     #0
    cmp     r0, r4
    bne     9f
    mov     r0, #46
    mov     r7, #1
    svc     #0
9:  mov     r0, #1
    mov     r7, #1
    svc     #0
user_brk_end:

    @ Benchmarks: a heap of `bytes`, every page touched, then `count`
    @ rounds of fork + child exit_group + parent wait4 (count 0: none, to
    @ subtract what touching costs).
    .macro fork_touched_loop name, bytes, count
    .global \name\()_start
    .global \name\()_end
\name\()_start:
    mov     r0, #0
    mov     r7, #45                 @ brk(0): where the heap starts
    svc     #0
    mov     r4, r0
    ldr     r6, =\bytes
    add     r0, r4, r6
    mov     r7, #45
    svc     #0
    add     r1, r4, r6
    cmp     r0, r1                  @ brk refused: exit 1
    bne     9f
    mov     r2, r4
1:  str     r2, [r2]
    add     r2, r2, #4096
    cmp     r2, r1
    blo     1b
    ldr     r5, =\count
    sub     sp, sp, #8
    cmp     r5, #0
    beq     8f
2:  mov     r7, #2
    svc     #0
    cmp     r0, #0
    bne     3f
    mov     r7, #248
    svc     #0
3:  mov     r1, sp
    mov     r2, #0
    mov     r3, #0
    mov     r7, #114
    svc     #0
    subs    r5, r5, #1
    bne     2b
8:  mov     r0, #0
    mov     r7, #1
    svc     #0
9:  mov     r0, #1
    mov     r7, #1
    svc     #0
    .ltorg
\name\()_end:
    .endm
    fork_touched_loop user_fork1m_21, 0x100000, 21
    fork_touched_loop user_fork1m_1, 0x100000, 1
    fork_touched_loop user_fork16m_11, 0x1000000, 11
    fork_touched_loop user_fork16m_1, 0x1000000, 1
    fork_touched_loop user_fork64m_11, 0x4000000, 11
    fork_touched_loop user_fork64m_1, 0x4000000, 1
    fork_touched_loop user_fork64m_0, 0x4000000, 0

    @ Benchmarks: an anonymous private mapping of `pages` pages, each
    @ touched once (a page fault that brings a zeroed page), then exit 0
    @ (exit 1 if mmap2 failed).
    .macro fault_loop name, pages
    .global \name\()_start
    .global \name\()_end
\name\()_start:
    mov     r0, #0
    ldr     r1, =\pages * 4096
    mov     r6, r1
    mov     r2, #3                  @ PROT_READ | PROT_WRITE
    mov     r3, #0x22               @ MAP_PRIVATE | MAP_ANONYMOUS
    mvn     r4, #0                  @ fd -1
    mov     r5, #0
    mov     r7, #192                @ mmap2
    svc     #0
    cmn     r0, #4096
    bhi     9f
    add     r1, r0, r6
1:  str     r0, [r0]
    add     r0, r0, #4096
    cmp     r0, r1
    blo     1b
    mov     r0, #0
    mov     r7, #1
    svc     #0
9:  mov     r0, #1
    mov     r7, #1
    svc     #0
    .ltorg
\name\()_end:
    .endm
    fault_loop user_fault_1025, 1025
    fault_loop user_fault_1, 1

    @ Benchmarks: futex ping-pong between two threads of one process on a
    @ word on the stack, `count` rounds: the main thread sets it to 1 and
    @ wakes the other, which sets it back to 0 and wakes the main thread;
    @ each sleeps in FUTEX_WAIT while the word says it is not its turn.
    @ `wait` and `wake` are the futex ops (private or shared). At the end
    @ the word becomes 2 and both threads exit.
    .macro futex_pingpong name, count, wait, wake
    .global \name\()_start
    .global \name\()_end
\name\()_start:
    sub     sp, sp, #16
    mov     r6, sp                  @ r6: the futex word
    mov     r0, #0
    str     r0, [r6]
    ldr     r0, =0x50f00            @ CLONE_VM | FS | FILES | SIGHAND | THREAD | SYSVSEM
    sub     r1, sp, #1024           @ (the thread never uses its stack)
    mov     r2, #0
    mov     r3, #0
    mov     r4, #0
    mov     r7, #120                @ clone
    svc     #0
    cmp     r0, #0
    beq     5f
    blt     9f
    ldr     r5, =\count
1:  mov     r0, #1                  @ main thread: word = 1, wake the other
    str     r0, [r6]
    mov     r0, r6
    mov     r1, #\wake
    mov     r2, #1
    mov     r7, #240
    svc     #0
2:  ldr     r2, [r6]                @ while (word == 1) futex_wait(&word, 1)
    cmp     r2, #1
    bne     3f
    mov     r0, r6
    mov     r1, #\wait
    mov     r3, #0
    mov     r7, #240
    svc     #0
    b       2b
3:  subs    r5, r5, #1
    bne     1b
    mov     r0, #2                  @ done: word = 2, wake the other, exit
    str     r0, [r6]
    mov     r0, r6
    mov     r1, #\wake
    mov     r2, #1
    mov     r7, #240
    svc     #0
    mov     r0, #0
    mov     r7, #1
    svc     #0
5:  ldr     r2, [r6]                @ the thread: while (word == 0) futex_wait(&word, 0)
    cmp     r2, #0
    bne     6f
    mov     r0, r6
    mov     r1, #\wait
    mov     r3, #0
    mov     r7, #240
    svc     #0
    b       5b
6:  cmp     r2, #2
    beq     8f
    mov     r0, #0                  @ word = 0, wake the main thread
    str     r0, [r6]
    mov     r0, r6
    mov     r1, #\wake
    mov     r2, #1
    mov     r7, #240
    svc     #0
    b       5b
8:  mov     r0, #0                  @ exit, this thread only
    mov     r7, #1
    svc     #0
9:  mov     r0, #1
    mov     r7, #1
    svc     #0
    .ltorg
\name\()_end:
    .endm
    futex_pingpong user_futex_private_201, 201, 128, 129
    futex_pingpong user_futex_private_1, 1, 128, 129
    futex_pingpong user_futex_shared_201, 201, 0, 1
    futex_pingpong user_futex_shared_1, 1, 0, 1
