/* t_fork - fork, vfork and clone(CLONE_VM): return values, parent/child
 * relations, memory independence over several generations, shared memory
 * with CLONE_VM, vfork suspending its parent until the child exits. */
#include "t.h"

/* One page both sides of a fork write. */
static volatile int page[1024] __attribute__((aligned(4096)));
static volatile int shared_word;
static long long stack_a[1024];

/* Generation g (0 = the test) writes its mark, forks g+1, waits, checks
 * that the child's writes (to every word) left its own copy alone. Exits
 * (or returns, for the test) with 0 when every generation below agreed. */
static int generation(int g, int depth)
{
    for (int i = 0; i < 1024; i++) page[i] = g * 1000 + i;
    if (g == depth) return 0;
    long c = sys0(NR_fork);
    if (c == 0) {
        int r = generation(g + 1, depth);
        /* The child's view: its own marks. */
        for (int i = 0; i < 1024; i++) if (page[i] != (g + 1) * 1000 + i) r = 1;
        sys_exit(r);
    }
    int st = -1;
    if (c < 0 || wait4(c, &st, 0) != c) return 1;
    for (int i = 0; i < 1024; i++) if (page[i] != g * 1000 + i) return 1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static int vm_child(void *arg)
{
    shared_word = (int)(long)arg;
    return 0;
}

static int sibling_child(void *parent)
{
    return sys0(NR_getppid) == (long)parent ? 33 : 34;
}

int test_main(int argc, char **argv, char **envp)
{
    (void)argc; (void)envp;
    tap_init(argv, 15);
    long me = sys0(NR_getpid), parent = sys0(NR_getppid);

    /* fork: 0 in the child, the child's pid in the parent; the child's
     * parent is us. The child reports through its exit code. */
    long c = sys0(NR_fork);
    if (c == 0) {
        int bad = 0;
        if (sys0(NR_getppid) != me) bad |= 1;
        if (sys0(NR_getpid) == me) bad |= 2;
        if (sys0(NR_gettid) != sys0(NR_getpid)) bad |= 4;
        sys_exit(bad);
    }
    ok(c > 0 && c != me, "fork returns the child's pid to the parent");
    int st = -1;
    ok(wait4(c, &st, 0) == c, "wait4 reaps that pid");
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "in the child: getppid is the parent, getpid is new, gettid == getpid");
    ok(sys0(NR_getpid) == me && sys0(NR_getppid) == parent, "the parent's identity is unchanged");

    /* The child's pid as it sees it equals what fork returned. */
    c = sys0(NR_fork);
    if (c == 0) sys_exit(sys0(NR_getpid) & 0xff);
    ok(c > 0 && wait4(c, &st, 0) == c && WEXITSTATUS(st) == (c & 0xff), "the child's getpid is fork's return value");

    /* Memory independence across 4 generations. */
    ok(generation(0, 4) == 0, "each of 4 generations of forks keeps its own copy of a written page");

    /* A child's write to the stack and to the heap (brk) stays its own. */
    volatile int local = 5;
    unsigned long b0 = sys1(NR_brk, 0);
    volatile int *heap = (int *)b0;
    int heap_ok = sys1(NR_brk, b0 + 4096) == (long)(b0 + 4096);
    if (heap_ok) *heap = 11;
    c = sys0(NR_fork);
    if (c == 0) { local = 6; if (heap_ok) *heap = 12; sys_exit(local == 6 && (!heap_ok || *heap == 12) ? 0 : 1); }
    wait4(c, &st, 0);
    ok(local == 5 && heap_ok && *heap == 11 && WEXITSTATUS(st) == 0, "stack and heap writes after fork stay in each process");
    sys1(NR_brk, b0);

    /* vfork: shares memory, and the parent runs again only after the child exits. */
    volatile int vflag = 0;
    long t0 = now_ms();
    c = sys0(NR_vfork);
    if (c == 0) {
        /* The parent is suspended: spend some time, then write. */
        for (int i = 0; i < 5; i++) sys0(NR_sched_yield);
        sleep_ms(30);
        vflag = 1;
        sys_exit(4);
    }
    ok(c > 0 && vflag == 1, "vfork: the parent resumes after the child exits and sees its write");
    ok(now_ms() - t0 >= 30, "vfork: the parent was suspended while the child slept");
    ok(wait4(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 4, "vfork: the child's exit status");
    ok(sys0(NR_getpid) == me, "vfork: the parent is itself again");

    /* clone(CLONE_VM | SIGCHLD): a process sharing our memory. */
    shared_word = 0;
    c = raw_clone(CLONE_VM | SIGCHLD, STACK_TOP(stack_a), 0, 0, 0, vm_child, (void *)77);
    ok(c > 0 && wait4(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "clone(CLONE_VM) child runs and is reaped");
    ok(shared_word == 77, "clone(CLONE_VM): the parent sees the child's write");

    /* CLONE_PARENT: a child's child that is ours, not its parent's. */
    c = sys0(NR_fork);
    if (c == 0) {
        long g = raw_clone(CLONE_PARENT | SIGCHLD, 0, 0, 0, 0, sibling_child, (void *)me);
        sys_exit(g > 0 ? 0 : 1);
    }
    int st2 = -1;
    long g = -1;
    if (wait4(c, &st, 0) == c) g = wait4(-1, &st2, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && g > 0 && g != c && WIFEXITED(st2) && WEXITSTATUS(st2) == 33,
       "CLONE_PARENT: the grandchild is our child, and its getppid is us");

    /* Without CLONE_VM (clone as fork), the write stays in the child. */
    shared_word = 0;
    c = raw_clone(SIGCHLD, 0, 0, 0, 0, vm_child, (void *)78);
    ok(c > 0 && wait4(c, &st, 0) == c && shared_word == 0, "clone without CLONE_VM: the child's write stays its own");
    return tap_done();
}
