/* t_wait - wait4 in all its modes and its status encodings, faults that
 * kill only the faulting child, and orphans going to pid 1. */
#include "t.h"

static long long stk[2][1024];
static volatile int orphan_ppid, orphan_parent;

enum { NR_waitid = 280, P_ALL = 0, P_PID = 1, P_PGID = 2, P_PIDFD = 3, WEXITED = 4, CLD_EXITED = 1, CLD_KILLED = 2,
       EBADF = 9 };
#define WNOWAIT 0x01000000
struct winfo { int signo, errno_, code, pid, uid, status; int rest[26]; };
static void fill(struct winfo *w) { unsigned char *p = (unsigned char *)w; for (unsigned i = 0; i < sizeof *w; i++) p[i] = 0x55; }
static long waitid(int idtype, long id, struct winfo *w, long options) { return sys6(NR_waitid, idtype, id, (long)w, options, 0, 0); }

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
    tap_init(argv, 30);
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

    /* (Run as pid 1, the orphan above is ours now: reaped first.) */
    while (wait4(-1, &st, WNOHANG | WALL) > 0) {}

    /* wait4's refusals, in Linux's order. */
    ok(wait4((long)0x80000000, &st, 0) == -ESRCH && wait4(-1, &st, 4 /* WEXITED */) == -EINVAL &&
       wait4(-1, &st, 0x1000) == -EINVAL, "wait4: pid INT_MIN is ESRCH; WEXITED or an unknown option is EINVAL");

    /* waitid: the siginfo it fills. */
    struct winfo w;
    a = child_exiting(5, 0);
    fill(&w);
    ok(waitid(P_PID, a, &w, WEXITED) == 0 && w.signo == SIGCHLD && w.errno_ == 0 && w.code == CLD_EXITED &&
       w.pid == a && w.uid == 0 && w.status == 5 && wait4(a, &st, WNOHANG) == -ECHILD,
       "waitid(P_PID, WEXITED): SIGCHLD, CLD_EXITED, the pid, uid 0, status 5; the child is reaped");
    a = child_exiting(6, 0);
    fill(&w);
    ok(waitid(P_PID, a, &w, WEXITED | WNOWAIT) == 0 && w.pid == a && w.status == 6 && wait4(a, &st, 0) == a &&
       WEXITSTATUS(st) == 6, "WNOWAIT: waitid tells, and the child stays to be reaped");
    a = child_exiting(0, 300);
    fill(&w);
    long wr = waitid(P_ALL, 0, &w, WEXITED | WNOHANG);
    if (!ok(wr == 0 && w.signo == 0 && w.pid == 0 && w.code == 0 && w.status == 0,
            "WNOHANG with the child still running: 0, and si_signo and si_pid 0")) {
        diag("waitid", wr);
        diag("si_signo", w.signo);
        diag("si_pid", w.pid);
        diag("si_code", w.code);
    }
    fill(&w);
    ok(waitid(P_ALL, 12345, &w, WEXITED) == 0 && w.pid == a, "P_ALL (its id ignored) waits for the child");
    a = child_exiting(7, 0);
    fill(&w);
    long pg = sys1(132 /* getpgid */, 0);
    ok(waitid(P_PGID, 0, &w, WEXITED | WNOWAIT) == 0 && w.pid == a && waitid(P_PGID, pg, &w, WEXITED) == 0 && w.status == 7,
       "P_PGID 0 is our process group; P_PGID with its number too");
    a = sys0(NR_fork);
    if (a == 0) for (;;) sleep_ms(1000);
    sys2(NR_kill, a, SIGKILL);
    fill(&w);
    ok(waitid(P_PID, a, &w, WEXITED) == 0 && w.code == CLD_KILLED && w.status == SIGKILL, "a killed child: CLD_KILLED, the signal");
    ok(waitid(P_ALL, 0, &w, 0) == -EINVAL && waitid(P_ALL, 0, &w, WEXITED | 0x100) == -EINVAL &&
       waitid(7, 0, &w, WEXITED) == -EINVAL && waitid(P_PID, 0, &w, WEXITED) == -EINVAL &&
       waitid(P_PGID, -1, &w, WEXITED) == -EINVAL && waitid(P_PIDFD, -1, &w, WEXITED) == -EINVAL &&
       waitid(P_PIDFD, 999, &w, WEXITED) == -EBADF,
       "waitid refuses: no event or unknown options, unknown idtype, P_PID 0, negative ids (EINVAL), a bad pidfd (EBADF)");
    a = child_exiting(0, 0);
    ok(waitid(P_PID, a, 0, WEXITED) == 0 && waitid(P_ALL, 0, &w, WEXITED) == -ECHILD,
       "waitid with a null infop reaps; with no children, ECHILD");
    return tap_done();
}
