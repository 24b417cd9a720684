/* t_clone - clone(2)'s flag rules seen from user space, and thread groups:
 * CLONE_THREAD shares the pid, gets its own tid, is not waitable, and
 * exit_group ends every thread while exit ends one. CLONE_CHILD_CLEARTID
 * with a futex wake is how a thread is joined. */
#include "t.h"

#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM)

static long long stk[4][1024];
static volatile int seen_pid, seen_tid, seen_ppid;
static volatile int tid_word;
static volatile int go;

static int report_ids(void *arg)
{
    (void)arg;
    seen_pid = sys0(NR_getpid);
    seen_tid = sys0(NR_gettid);
    seen_ppid = sys0(NR_getppid);
    return 0;
}

/* Waits until *w becomes 0, as pthread_join does with the tid word: futex
 * waits of 2 s each, 4 s at most. Returns 1 when the word was cleared within
 * 1.5 s (a lost futex wake would cost the 2 s timeout). */
static int join(volatile int *w)
{
    long t0 = now_ms();
    int v;
    while ((v = *w) != 0 && now_ms() - t0 < 4000) {
        struct timespec32 t = { 2, 0 };
        sys4(NR_futex, w, FUTEX_WAIT, v, &t);
    }
    return *w == 0 && now_ms() - t0 < 1500;
}

/* Waits on *arg with FUTEX_WAIT_BITSET (9), mask 1, until woken. */
static int bitset_waiter(void *arg)
{
    sys6(NR_futex, (long)arg, 9, 0, 0, 0, 1);
    return 0;
}

static int spin_forever(void *arg)
{
    (void)arg;
    for (;;) sys0(NR_sched_yield);
    return 0;
}

static int sleep_in_futex(void *arg)
{
    (void)arg;
    static int never = 1;
    for (;;) futex(&never, FUTEX_WAIT, 1);
    return 0;
}

static volatile unsigned counter;

static int group_main(void *arg)
{
    (void)arg;
    raw_clone(THREAD_FLAGS, STACK_TOP(stk[1]), 0, 0, 0, count_forever, (void *)&counter);
    raw_clone(THREAD_FLAGS, STACK_TOP(stk[2]), 0, 0, 0, sleep_in_futex, 0);
    long end = now_ms() + 2000;
    while (counter < 1000 && now_ms() < end) sleep_ms(5);
    sys1(NR_exit_group, 7);
    return 99;
}

static volatile int thread_child, release_thread;

/* Forks a child from a thread, then stays alive until told to go. */
static int forking_thread(void *arg)
{
    (void)arg;
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(12);
    thread_child = (int)c;
    long end = now_ms() + 3000;
    while (!release_thread && now_ms() < end) sleep_ms(5);
    return 0;
}

static int group_exit_from_thread(void *arg)
{
    sleep_ms(20);
    sys1(NR_exit_group, (long)arg);
    return 99;
}

static int exit_one_thread(void *arg)
{
    (void)arg;
    sleep_ms(20);
    go = 1;
    return 0; /* clone.S ends it with exit(0): one thread */
}

static int late_thread(void *arg)
{
    sleep_ms((long)arg);
    return 5;
}

int test_main(int argc, char **argv, char **envp)
{
    (void)argc; (void)envp;
    tap_init(argv, 28);
    long me = sys0(NR_getpid);

    /* Flag rules: refused with EINVAL before anything is created. */
    ok(sys2(NR_clone, CLONE_NEWNS | CLONE_FS | SIGCHLD, 0) == -EINVAL, "CLONE_NEWNS|CLONE_FS: EINVAL");
    ok(sys2(NR_clone, CLONE_NEWUSER | CLONE_FS | SIGCHLD, 0) == -EINVAL, "CLONE_NEWUSER|CLONE_FS: EINVAL");
    ok(sys2(NR_clone, CLONE_THREAD | CLONE_VM, 0) == -EINVAL, "CLONE_THREAD without CLONE_SIGHAND: EINVAL");
    ok(sys2(NR_clone, CLONE_SIGHAND | SIGCHLD, 0) == -EINVAL, "CLONE_SIGHAND without CLONE_VM: EINVAL");
    ok(sys2(NR_clone, CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0) == -EINVAL,
       "CLONE_NEWUSER|CLONE_THREAD: EINVAL");
    ok(sys2(NR_clone, CLONE_NEWPID | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0) == -EINVAL,
       "CLONE_NEWPID|CLONE_THREAD: EINVAL");
    ok(sys2(NR_clone, CLONE_PIDFD | CLONE_DETACHED | SIGCHLD, 0) == -EINVAL, "CLONE_PIDFD|CLONE_DETACHED: EINVAL");
    int st;
    ok(wait4(-1, &st, WNOHANG) == -ECHILD, "no child was created by the refused calls");

    /* A new pid namespace (root may make one): its first process is pid 1
     * there, its parent is outside (getppid 0), and its own child is pid 2
     * with parent 1. The exit code says which of these failed. */
    long n = sys2(NR_clone, CLONE_NEWPID | SIGCHLD, 0);
    if (n == 0) {
        int bad = 0;
        if (sys0(NR_getpid) != 1) bad |= 1;
        if (sys0(NR_gettid) != 1) bad |= 2;
        if (sys0(NR_getppid) != 0) bad |= 4;
        long g = sys0(NR_fork);
        if (g == 0) sys_exit(sys0(NR_getpid) == 2 && sys0(NR_getppid) == 1 ? 0 : 1);
        int gs = -1;
        if (g != 2 || wait4(g, &gs, 0) != 2 || gs != 0) bad |= 8;
        sys_exit(bad);
    }
    int ns_st = -1;
    ok(n > 1 && wait4(n, &ns_st, 0) == n && ns_st == 0,
       "CLONE_NEWPID: pid 1 in its namespace, getppid 0, its child pid 2 with ppid 1");

    /* A thread: same pid, its own tid, the same parent. */
    tid_word = -1;
    long t = raw_clone(THREAD_FLAGS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID, STACK_TOP(stk[0]),
                       (int *)&tid_word, 0, (int *)&tid_word, report_ids, 0);
    ok(t > 0 && t != me, "clone(CLONE_THREAD) returns a new tid");
    ok(join(&tid_word), "CLONE_CHILD_CLEARTID: the tid word is cleared and the joiner woken at thread exit");
    ok(seen_pid == me && seen_tid == t && seen_ppid == sys0(NR_getppid),
       "in the thread: getpid is the group's, gettid its own, getppid the process's parent");
    ok(wait4(t, &st, 0) == -ECHILD && wait4(t, &st, WALL) == -ECHILD, "wait4 on a thread: ECHILD");
    ok(wait4(-1, &st, WNOHANG | WALL) == -ECHILD, "a thread is never a child to wait for");

    /* A child forked by one thread is waitable by another (the group's children are shared). */
    tid_word = -1;
    t = raw_clone(THREAD_FLAGS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID, STACK_TOP(stk[0]),
                  (int *)&tid_word, 0, (int *)&tid_word, forking_thread, 0);
    long end = now_ms() + 3000;
    while (!thread_child && now_ms() < end) sleep_ms(5);
    st = -1;
    ok(t > 0 && thread_child > 0 && wait_bounded(thread_child, &st, 3000) == thread_child &&
       WIFEXITED(st) && WEXITSTATUS(st) == 12, "the main thread reaps a child that another (live) thread forked");
    release_thread = 1;
    ok(join(&tid_word), "... and that thread is joined afterwards");

    /* FUTEX_WAIT: EAGAIN when the value differs, ETIMEDOUT after its timeout. */
    static int fword = 5;
    struct timespec32 ft = { 0, 50000000 };
    ok(sys4(NR_futex, &fword, FUTEX_WAIT, 6, &ft) == -EAGAIN, "FUTEX_WAIT with another value: EAGAIN");
    long f0 = now_ms();
    long fr = sys4(NR_futex, &fword, FUTEX_WAIT, 5, &ft);
    ok(fr == -ETIMEDOUT && now_ms() - f0 >= 50, "FUTEX_WAIT with a 50 ms timeout: ETIMEDOUT after 50 ms");

    /* FUTEX_WAKE_BITSET (10) wakes only waiters whose mask shares a bit. */
    static int bword;
    static volatile int btid = -1;
    long bt = raw_clone(THREAD_FLAGS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID, STACK_TOP(stk[1]),
                        (int *)&btid, 0, (int *)&btid, bitset_waiter, &bword);
    sleep_ms(30);
    long w2 = sys6(NR_futex, (long)&bword, 10, 1, 0, 0, 2);
    long w1 = sys6(NR_futex, (long)&bword, 10, 1, 0, 0, 1);
    ok(bt > 0 && w2 == 0 && w1 == 1 && join(&btid), "FUTEX_WAKE_BITSET: mask 2 wakes no one, mask 1 wakes the waiter");

    /* exit_group from the main thread ends threads that spin (without a
     * system call) and that sleep. The process shares our memory
     * (CLONE_VM), so we can watch its spinning thread's counter. */
    long c = raw_clone(CLONE_VM | SIGCHLD, STACK_TOP(stk[3]), 0, 0, 0, group_main, 0);
    st = -1;
    ok(c > 0 && wait_bounded(c, &st, 3000) == c, "exit_group: the process (with two more threads) is reaped");
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 7, "exit_group: the group's exit code");
    unsigned c1 = counter;
    sleep_ms(50);
    ok(c1 > 0 && counter == c1, "exit_group: the spinning thread no longer runs");

    /* exit_group from a thread ends the main thread too, with its code. */
    c = sys0(NR_fork);
    if (c == 0) {
        raw_clone(THREAD_FLAGS, STACK_TOP(stk[1]), 0, 0, 0, group_exit_from_thread, (void *)9);
        static int never = 1;
        for (;;) futex(&never, FUTEX_WAIT, 1);
    }
    st = -1;
    ok(wait_bounded(c, &st, 3000) == c && WIFEXITED(st) && WEXITSTATUS(st) == 9,
       "exit_group from a thread ends the main thread with the thread's code");

    /* exit (not exit_group) in a thread ends only that thread. */
    c = sys0(NR_fork);
    if (c == 0) {
        raw_clone(THREAD_FLAGS, STACK_TOP(stk[1]), 0, 0, 0, exit_one_thread, 0);
        long end = now_ms() + 2000;
        while (!go && now_ms() < end) sleep_ms(5);
        sleep_ms(20);
        sys1(NR_exit_group, go ? 5 : 6);
    }
    st = -1;
    ok(wait_bounded(c, &st, 3000) == c && WIFEXITED(st) && WEXITSTATUS(st) == 5,
       "exit in a thread ends that thread only: the main thread goes on");

    /* The main thread exits (exit, not exit_group) while a thread runs: the
     * process is reaped only once the thread is gone, and the status is the
     * code of that last thread (5), not the main thread's (3), as Linux 6.1
     * reports it. */
    c = sys0(NR_fork);
    if (c == 0) {
        raw_clone(THREAD_FLAGS, STACK_TOP(stk[1]), 0, 0, 0, late_thread, (void *)800);
        sys_exit(3);
    }
    sleep_ms(100);
    ok(wait4(c, &st, WNOHANG) == 0, "a group leader that exited is not reaped while its thread runs");
    st = -1;
    long t0 = now_ms();
    ok(wait_bounded(c, &st, 3000) == c && WIFEXITED(st) && WEXITSTATUS(st) == 5,
       "... and is reaped when the last thread exits, with that thread's exit code");
    ok(now_ms() - t0 >= 100, "... which was later");

    /* kill(SIGKILL) of the process ends all its threads. */
    c = sys0(NR_fork);
    if (c == 0) {
        raw_clone(THREAD_FLAGS, STACK_TOP(stk[1]), 0, 0, 0, spin_forever, 0);
        raw_clone(THREAD_FLAGS, STACK_TOP(stk[2]), 0, 0, 0, sleep_in_futex, 0);
        spin_forever(0);
    }
    sleep_ms(30);
    sys2(NR_kill, c, SIGKILL);
    st = -1;
    ok(wait_bounded(c, &st, 3000) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
       "kill(SIGKILL) ends a process of three threads: killed by signal 9");
    return tap_done();
}
