/* t_futex - futex keys and requeueing as Linux 6.1 has them: a shared op
 * on a MAP_SHARED page names the page, so a waiter in one process is woken
 * from another; FUTEX_PRIVATE_FLAG names the address space and address,
 * and a private waiter never meets a shared waker (nor the reverse), even
 * on one word of one process. FUTEX_REQUEUE and FUTEX_CMP_REQUEUE wake some
 * waiters and move others to a second futex (EAGAIN when the word changed,
 * EINVAL for negative counts); a moved waiter that times out or is
 * interrupted leaves the futex it was moved to. FUTEX_WAKE of 0 wakes one;
 * FUTEX_CLOCK_REALTIME is only for FUTEX_WAIT_BITSET.
 *
 * How many wait on a futex is asked with a requeue of none woken and all
 * moved onto the same futex, which changes nothing and counts them. */
#include "t.h"

enum { FUTEX_REQUEUE = 3, FUTEX_CMP_REQUEUE = 4, FUTEX_WAIT_BITSET = 9, PRIV = 128, FUTEX_CLOCK_REALTIME = 256 };
enum { MAP_SHARED = 1, MAP_ANON = 0x20, NR_tgkill = 268, NR_rt_sigaction = 174, SIGUSR1 = 10, ENOSYS = 38 };
#define SA_RESTORER 0x04000000u
#define INT_MAX 0x7fffffffL
#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID)

static long fx(volatile int *u, long op, long val, long val2, volatile int *u2, long val3)
{
    return sys6(NR_futex, (long)u, op, val, val2, (long)u2, val3);
}

/* How many wait on *u (with `priv`, the op's private flag). */
static long waiters(volatile int *u, long priv) { return fx(u, FUTEX_REQUEUE | priv, 0, INT_MAX, u, 0); }

/* Waits (up to 3 s) until exactly `n` wait on *u. */
static int await_waiters(volatile int *u, long priv, long n)
{
    long end = now_ms() + 3000;
    while (now_ms() < end) {
        if (waiters(u, priv) == n) return 1;
        sleep_ms(2);
    }
    return 0;
}

/* Threads that make one FUTEX_WAIT (op, val, a timeout in ms or 0) and
 * keep its result. */
struct waiter { volatile int *u; long op, val, ms; volatile long result; };
static long long stk[8][512];
static volatile int tid_word[8];

static int wait_once(void *arg)
{
    struct waiter *w = arg;
    struct timespec32 t = { w->ms / 1000, (w->ms % 1000) * 1000000 };
    /* (FUTEX_WAIT_BITSET: mask 1; its timeout would be absolute, so none.) */
    w->result = fx(w->u, w->op, w->val, w->ms ? (long)&t : 0, 0, 1);
    return 0;
}

/* Starts waiter i; its tid. */
static long start(int i, struct waiter *w, volatile int *u, long op, long val, long ms)
{
    w->u = u; w->op = op; w->val = val; w->ms = ms; w->result = 1000;
    tid_word[i] = 1;
    return raw_clone(THREAD_FLAGS, STACK_TOP(stk[i]), 0, 0, (int *)&tid_word[i], wait_once, w);
}

/* Joins waiter i (CLONE_CHILD_CLEARTID's word, as pthread_join): 1 if it
 * ended within 3 s. */
static int join(int i)
{
    long end = now_ms() + 3000;
    int v;
    while ((v = tid_word[i]) != 0 && now_ms() < end) {
        struct timespec32 t = { 0, 100000000 };
        fx(&tid_word[i], FUTEX_WAIT, v, (long)&t, 0, 0);
    }
    return tid_word[i] == 0;
}

static volatile int *shared_page(void)
{
    return (volatile int *)sys6(NR_mmap2, 0, 4096, 3, MAP_SHARED | MAP_ANON, -1, 0);
}

static int fork_wait(volatile int *u, long op, long ms)
{
    long c = sys0(NR_fork);
    if (c == 0) {
        struct timespec32 t = { ms / 1000, (ms % 1000) * 1000000 };
        long r = fx(u, op, 0, (long)&t, 0, 0);
        sys1(NR_exit_group, r == 0 ? 0 : r == -ETIMEDOUT ? 2 : 3);
    }
    return (int)c;
}

static int child_status(long c)
{
    int st = -1;
    if (c <= 0 || wait4(c, &st, 0) != c || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

static volatile int got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }
extern char sig_restorer[];

int test_main(int argc, char **argv, char **envp)
{
    (void)argc; (void)envp;
    tap_init(argv, 22);
    struct waiter w[4];
    volatile int *p = shared_page();
    static volatile int a, b, c;

    /* Across processes, on a MAP_SHARED page. */
    long ch = fork_wait(&p[0], FUTEX_WAIT, 3000);
    int seen = await_waiters(&p[0], 0, 1);
    long woke = fx(&p[0], FUTEX_WAKE, 1, 0, 0, 0);
    ok(seen && woke == 1 && child_status(ch) == 0,
       "MAP_SHARED page: the parent sees the child's FUTEX_WAIT and its FUTEX_WAKE wakes it (1)");

    ch = fork_wait(&p[1], FUTEX_WAIT | PRIV, 400);
    long stray = 0, t0 = now_ms();
    while (now_ms() - t0 < 450) {
        stray += fx(&p[1], FUTEX_WAKE | PRIV, INT_MAX, 0, 0, 0) + fx(&p[1], FUTEX_WAKE, INT_MAX, 0, 0, 0);
        sleep_ms(10);
    }
    ok(stray == 0 && child_status(ch) == 2,
       "a child's FUTEX_WAIT_PRIVATE on that page is its own: no wake from the parent reaches it (ETIMEDOUT)");

    ch = fork_wait(&p[2], FUTEX_WAIT, 3000);
    seen = await_waiters(&p[2], 0, 1);
    long moved = fx(&p[2], FUTEX_REQUEUE, 0, 1, &p[3], 0);
    long on3 = waiters(&p[3], 0);
    woke = fx(&p[3], FUTEX_WAKE, 1, 0, 0, 0);
    ok(seen && moved == 1 && on3 == 1 && woke == 1 && child_status(ch) == 0,
       "FUTEX_REQUEUE moves another process's waiter to a second word of the page, whose wake wakes it");

    /* A shared op has to find the word's page; a private one only needs a user address. */
    volatile int *gone = shared_page();
    sys2(NR_munmap, (long)gone, 4096);
    ok(fx(gone, FUTEX_WAKE, 1, 0, 0, 0) == -EFAULT && fx(gone, FUTEX_WAKE | PRIV, 1, 0, 0, 0) == 0 &&
           fx((volatile int *)0xc0000000, FUTEX_WAKE | PRIV, 1, 0, 0, 0) == -EFAULT,
       "FUTEX_WAKE on an unmapped word: EFAULT; FUTEX_WAKE_PRIVATE: 0 (EFAULT in the kernel half)");

    /* One process: private and shared keys never meet, on private memory
     * and on a shared page alike. */
    volatile int *words[2] = { &a, &p[4] };
    for (int k = 0; k < 2; k++) {
        volatile int *u = words[k];
        start(0, &w[0], u, FUTEX_WAIT | PRIV, 0, 3000);
        seen = await_waiters(u, PRIV, 1);
        long shared_sees = waiters(u, 0);
        long ws = fx(u, FUTEX_WAKE, INT_MAX, 0, 0, 0);
        long wp = fx(u, FUTEX_WAKE | PRIV, INT_MAX, 0, 0, 0);
        ok(seen && shared_sees == 0 && ws == 0 && wp == 1 && join(0) && w[0].result == 0,
           k ? "a shared page: a FUTEX_WAIT_PRIVATE is woken by FUTEX_WAKE_PRIVATE only, not FUTEX_WAKE"
             : "private memory: a FUTEX_WAIT_PRIVATE is woken by FUTEX_WAKE_PRIVATE only, not FUTEX_WAKE");
        start(0, &w[0], u, FUTEX_WAIT, 0, 3000);
        seen = await_waiters(u, 0, 1);
        wp = fx(u, FUTEX_WAKE | PRIV, INT_MAX, 0, 0, 0);
        ws = fx(u, FUTEX_WAKE, INT_MAX, 0, 0, 0);
        ok(seen && wp == 0 && ws == 1 && join(0) && w[0].result == 0,
           k ? "and a FUTEX_WAIT by FUTEX_WAKE only, not FUTEX_WAKE_PRIVATE"
             : "and a FUTEX_WAIT (shared) by FUTEX_WAKE only, not FUTEX_WAKE_PRIVATE");
    }

    /* FUTEX_WAKE's count is an int, and Linux wakes one even for 0 or less. */
    start(0, &w[0], &a, FUTEX_WAIT | PRIV, 0, 3000);
    start(1, &w[1], &a, FUTEX_WAIT | PRIV, 0, 3000);
    seen = await_waiters(&a, PRIV, 2);
    long w0 = fx(&a, FUTEX_WAKE | PRIV, 0, 0, 0, 0);
    long wneg = fx(&a, FUTEX_WAKE | PRIV, -1, 0, 0, 0);
    ok(seen && w0 == 1 && wneg == 1 && join(0) && join(1), "FUTEX_WAKE of 0, and of -1, wakes one waiter");

    /* FUTEX_REQUEUE: three on a; wake one, move one to b, leave one. */
    a = 0;
    for (int i = 0; i < 3; i++) start(i, &w[i], &a, FUTEX_WAIT | PRIV, 0, 3000);
    seen = await_waiters(&a, PRIV, 3);
    long r = fx(&a, FUTEX_REQUEUE | PRIV, 1, 1, &b, 0);
    long on_a = waiters(&a, PRIV), on_b = waiters(&b, PRIV);
    long wa = fx(&a, FUTEX_WAKE | PRIV, INT_MAX, 0, 0, 0), wb = fx(&b, FUTEX_WAKE | PRIV, INT_MAX, 0, 0, 0);
    int joined = join(0) && join(1) && join(2);
    ok(seen && r == 2 && on_a == 1 && on_b == 1, "FUTEX_REQUEUE (wake 1, move 1) of three: returns 2, one left on each");
    ok(wa == 1 && wb == 1 && joined && !w[0].result && !w[1].result && !w[2].result,
       "the one left and the one moved are woken by wakes on their own futexes");

    /* FUTEX_CMP_REQUEUE: EAGAIN unless the word still holds val3. */
    a = 5;
    for (int i = 0; i < 2; i++) start(i, &w[i], &a, FUTEX_WAIT | PRIV, 5, 3000);
    seen = await_waiters(&a, PRIV, 2);
    long again = fx(&a, FUTEX_CMP_REQUEUE | PRIV, 0, INT_MAX, &b, 6);
    on_a = waiters(&a, PRIV);
    ok(seen && again == -EAGAIN && on_a == 2, "FUTEX_CMP_REQUEUE with another value: EAGAIN, nobody moved");
    r = fx(&a, FUTEX_CMP_REQUEUE | PRIV, 0, INT_MAX, &b, 5);
    on_a = waiters(&a, PRIV);
    on_b = waiters(&b, PRIV);
    wb = fx(&b, FUTEX_WAKE | PRIV, INT_MAX, 0, 0, 0);
    ok(r == 2 && on_a == 0 && on_b == 2 && wb == 2 && join(0) && join(1),
       "with the value: both moved (2), and woken from the second futex");

    /* Negative counts, a misaligned second word, the clock flag. */
    ok(fx(&a, FUTEX_REQUEUE | PRIV, -1, 1, &b, 0) == -EINVAL && fx(&a, FUTEX_REQUEUE | PRIV, 1, -1, &b, 0) == -EINVAL &&
           fx(&a, FUTEX_CMP_REQUEUE, -1, 0, &b, 5) == -EINVAL && fx(&a, FUTEX_CMP_REQUEUE, 0, -2, &b, 5) == -EINVAL,
       "FUTEX_REQUEUE and FUTEX_CMP_REQUEUE with a negative count: EINVAL");
    ok(fx(&a, FUTEX_REQUEUE | PRIV, 1, 1, (volatile int *)((char *)&b + 1), 0) == -EINVAL &&
           fx(&a, FUTEX_CMP_REQUEUE | PRIV, 1, 1, (volatile int *)((char *)&b + 2), 5) == -EINVAL,
       "a misaligned second futex: EINVAL");
    struct timespec32 soon = { 0, 1000000 };
    ok(fx(&a, FUTEX_WAIT | FUTEX_CLOCK_REALTIME, a, (long)&soon, 0, 0) == -ENOSYS &&
           fx(&a, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, 0, 0, 0) == -ENOSYS &&
           fx(&a, FUTEX_REQUEUE | FUTEX_CLOCK_REALTIME, 1, 1, &b, 0) == -ENOSYS,
       "FUTEX_CLOCK_REALTIME with FUTEX_WAIT, FUTEX_WAKE or FUTEX_REQUEUE: ENOSYS");

    /* A moved waiter that times out leaves the futex it was moved to. */
    a = 0;
    start(0, &w[0], &a, FUTEX_WAIT | PRIV, 0, 300);
    seen = await_waiters(&a, PRIV, 1);
    moved = fx(&a, FUTEX_REQUEUE | PRIV, 0, 1, &c, 0);
    joined = join(0);
    ok(seen && moved == 1 && joined && w[0].result == -ETIMEDOUT && waiters(&c, PRIV) == 0 && waiters(&a, PRIV) == 0,
       "a waiter moved to another futex then timed out: ETIMEDOUT, on neither futex afterwards");
    start(1, &w[1], &c, FUTEX_WAIT | PRIV, 0, 3000);
    seen = await_waiters(&c, PRIV, 1);
    ok(seen && fx(&c, FUTEX_WAKE | PRIV, INT_MAX, 0, 0, 0) == 1 && join(1) && w[1].result == 0,
       "that futex works as before: a new waiter, one wake");

    /* A moved waiter interrupted by a signal (a handler without SA_RESTART). */
    struct { unsigned long handler, flags, restorer; unsigned long long mask; } sa =
        { (unsigned long)on_usr1, SA_RESTORER, (unsigned long)sig_restorer, 0 };
    sys4(NR_rt_sigaction, SIGUSR1, &sa, 0, 8);
    long tid = start(0, &w[0], &a, FUTEX_WAIT | PRIV, 0, 0);
    seen = await_waiters(&a, PRIV, 1);
    moved = fx(&a, FUTEX_REQUEUE | PRIV, 0, 1, &c, 0);
    sys3(NR_tgkill, sys0(NR_getpid), tid, SIGUSR1);
    joined = join(0);
    ok(seen && moved == 1 && joined && w[0].result == -EINTR && got_usr1 && waiters(&c, PRIV) == 0,
       "a waiter moved then interrupted by a handled signal: EINTR, on neither futex afterwards");

    /* A FUTEX_WAIT_BITSET waiter moves as any other (requeue has no mask). */
    start(0, &w[0], &a, FUTEX_WAIT_BITSET | PRIV, 0, 0);
    seen = await_waiters(&a, PRIV, 1);
    ok(seen && fx(&a, FUTEX_REQUEUE | PRIV, 0, 1, &b, 0) == 1, "a FUTEX_WAIT_BITSET waiter is moved too");
    ok(fx(&b, FUTEX_WAKE | PRIV, INT_MAX, 0, 0, 0) == 1 && join(0) && w[0].result == 0,
       "and woken on the futex it was moved to");
    /* futex_time64 (422), what glibc calls first: a 64-bit timespec. */
    {
        static int word = 5;
        long long ts64[2] = { 0, 20000000 };
        long t0 = now_ms();
        long r64 = sys6(422, (long)&word, 128 /* FUTEX_WAIT_PRIVATE */, 5, (long)ts64, 0, 0);
        long long bad64[2] = { 0, 1000000000 };
        ok(r64 == -ETIMEDOUT && now_ms() - t0 >= 19 &&
           sys6(422, (long)&word, 128, 5, (long)bad64, 0, 0) == -EINVAL &&
           sys6(422, (long)&word, 128, 6, (long)ts64, 0, 0) == -EAGAIN,
           "futex_time64: FUTEX_WAIT times out after its 20 ms; a bad time EINVAL; a changed word EAGAIN");
    }
    return tap_done();
}
