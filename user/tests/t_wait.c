/* t_wait - wait4 in all its modes and its status encodings, faults that
 * kill only the faulting child, and orphans going to pid 1. */
#include "t.h"

static long long stk[2][1024];
static volatile int orphan_ppid, orphan_parent;

static long child_exiting(int code, long delay_ms)
{
    long c = sys0(NR_fork);
    if (c == 0) {
        if (delay_ms) sleep_ms(delay_ms);
        sys_exit(code);
    }
    return c;
}

/* The grandchild: waits (bounded) for its parent to go, then reports its
 * new parent through memory it shares with the test (CLONE_VM). */
static int grandchild(void *arg)
{
    (void)arg;
    long end = now_ms() + 3000;
    long p;
    while ((p = sys0(NR_getppid)) == orphan_parent && now_ms() < end) sys0(NR_sched_yield);
    orphan_ppid = (int)p;
    return 0;
}

static int middle(void *arg)
{
    (void)arg;
    orphan_parent = sys0(NR_getpid);
    raw_clone(CLONE_VM | SIGCHLD, STACK_TOP(stk[1]), 0, 0, 0, grandchild, 0);
    return 0; /* exits at once: the grandchild is an orphan */
}

int test_main(int argc, char **argv, char **envp)
{
    (void)argc; (void)envp;
    tap_init(argv, 21);
    int st;
    ok(wait4(-1, &st, 0) == -ECHILD, "wait4(-1) with no children: ECHILD");
    ok(wait4(-1, &st, WNOHANG) == -ECHILD, "wait4(-1, WNOHANG) with no children: ECHILD");

    /* pid > 0 picks that child even when another one is ready first. */
    long a = child_exiting(1, 0), b = child_exiting(2, 50);
    sleep_ms(10);
    st = -1;
    ok(wait4(b, &st, 0) == b && WIFEXITED(st) && WEXITSTATUS(st) == 2, "wait4(pid) waits for that child");
    st = -1;
    ok(wait4(a, &st, 0) == a && WEXITSTATUS(st) == 1, "... and the other stays waitable");
    ok(wait4(a, &st, 0) == -ECHILD, "wait4 of a reaped child: ECHILD");

    /* WNOHANG with a live child: 0. */
    a = child_exiting(0, 500);
    ok(wait4(a, &st, WNOHANG) == 0, "wait4(pid, WNOHANG) with the child still running: 0");
    ok(wait4(-1, &st, WNOHANG) == 0, "wait4(-1, WNOHANG) with the child still running: 0");
    ok(wait4(-1, &st, 0) == a && WEXITSTATUS(st) == 0, "wait4(-1) then waits for it");

    /* -1 collects every child, in whatever order. */
    long kids[3];
    for (int i = 0; i < 3; i++) kids[i] = child_exiting(10 + i, 5 * i);
    int got = 0;
    for (int i = 0; i < 3; i++) {
        long r = wait4(-1, &st, 0);
        for (int k = 0; k < 3; k++) if (r == kids[k] && WEXITSTATUS(st) == 10 + k) got |= 1 << k;
    }
    ok(got == 7, "wait4(-1) reaps three children, each with its own code");

    /* 0: any child in our process group (children start in ours). */
    a = child_exiting(21, 0);
    ok(wait4(0, &st, 0) == a && WEXITSTATUS(st) == 21, "wait4(0) reaps a child of our process group");

    /* NULL status pointer (and NULL rusage) are fine. */
    a = child_exiting(0, 0);
    ok(sys4(NR_wait4, a, 0, 0, 0) == a, "wait4 with NULL status and rusage");

    /* rusage: the child's CPU time; a bad pointer is EFAULT (the child is reaped all the same). */
    a = sys0(NR_fork);
    if (a == 0) {
        long end = now_ms() + 200;
        volatile unsigned n = 0;
        while (now_ms() < end) for (int i = 0; i < 10000; i++) n++;
        sys_exit(0);
    }
    static long ru[18];
    for (int i = 0; i < 18; i++) ru[i] = -1;
    long r = sys4(NR_wait4, a, &st, 0, ru);
    long cpu_ms = (ru[0] + ru[2]) * 1000 + (ru[1] + ru[3]) / 1000;
    diag("child CPU time (ms)", cpu_ms);
    /* (At least 20 ms of the 200: ticks a loaded host drops are not counted.) */
    ok(r == a && ru[1] >= 0 && ru[1] < 1000000 && ru[3] >= 0 && ru[3] < 1000000 && cpu_ms >= 20 && cpu_ms < 5000,
       "wait4 fills rusage with the child's user + system time (about 200 ms)");
    a = child_exiting(0, 0);
    ok(sys4(NR_wait4, a, &st, 0, 0xC0000000) == -EFAULT && wait4(a, &st, WNOHANG) == -ECHILD,
       "wait4 with a kernel-space rusage pointer: EFAULT, the child reaped");

    /* Status encodings. */
    a = child_exiting(256 + 5, 0);
    ok(wait4(a, &st, 0) == a && WIFEXITED(st) && !WIFSIGNALED(st) && WEXITSTATUS(st) == 5 && (st & 0xffff) == 0x0500,
       "exit(261): WIFEXITED, WEXITSTATUS 5 (the low 8 bits), status 0x0500");

    /* A store to address 0 kills only that child, by SIGSEGV. */
    a = sys0(NR_fork);
    if (a == 0) {
        *(volatile int *)0 = 1;
        sys_exit(0);
    }
    st = -1;
    ok(wait4(a, &st, 0) == a && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "a store to NULL: killed by SIGSEGV");
    a = sys0(NR_fork);
    if (a == 0) {
        (void)*(volatile int *)0xC0000000;
        sys_exit(0);
    }
    st = -1;
    ok(wait4(a, &st, 0) == a && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "a load from kernel memory: killed by SIGSEGV");

    /* kill(SIGKILL), kill(SIGTERM): WIFSIGNALED with that signal. */
    a = sys0(NR_fork);
    if (a == 0) for (;;) sys0(NR_sched_yield);
    ok(sys2(NR_kill, a, 0) == 0, "kill(pid, 0) finds a live child");
    sys2(NR_kill, a, SIGKILL);
    ok(wait4(a, &st, 0) == a && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && !WIFEXITED(st), "kill(SIGKILL): WTERMSIG 9");
    a = sys0(NR_fork);
    if (a == 0) for (;;) sleep_ms(1000);
    sleep_ms(10);
    sys2(NR_kill, a, SIGTERM);
    ok(wait4(a, &st, 0) == a && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "kill(SIGTERM) of a sleeping child: WTERMSIG 15");

    /* Orphans go to pid 1: the grandchild's getppid becomes 1. */
    orphan_ppid = -1;
    a = raw_clone(CLONE_VM | SIGCHLD, STACK_TOP(stk[0]), 0, 0, 0, middle, 0);
    ok(a > 0 && wait4(a, &st, 0) == a, "the middle process exits and is reaped");
    long end = now_ms() + 3000;
    while (orphan_ppid == -1 && now_ms() < end) sleep_ms(5);
    ok(orphan_ppid == 1, "its orphaned child is reparented to pid 1");
    return tap_done();
}
