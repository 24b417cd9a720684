/* t_siginfo - what a signal carries and how pending signals wait, as a
 * Linux ARM program sees it through the raw calls: the siginfo of kill,
 * tkill, rt_sigqueueinfo, faults and SIGCHLD; real-time signals queued in
 * order, standard ones merged, RLIMIT_SIGPENDING; a process signal taken by
 * the thread that does not block it; rt_sigpending, rt_sigtimedwait,
 * rt_sigsuspend (the shell's `wait`), pause; sigaltstack; and the order of
 * the checks where kill, tkill, tgkill and the rt_sig* calls refuse. */
#include "t.h"

enum {
    NR_pause = 29, NR_sigreturn = 119, NR_rt_sigaction = 174, NR_rt_sigprocmask = 175,
    NR_rt_sigpending = 176, NR_rt_sigtimedwait = 177, NR_rt_sigqueueinfo = 178, NR_rt_sigsuspend = 179,
    NR_sigaltstack = 186, NR_tkill = 238, NR_tgkill = 268, NR_rt_tgsigqueueinfo = 363,
    NR_rt_sigtimedwait_time64 = 421,
};
enum { SIGUSR1 = 10, SIGUSR2 = 12, SIGRT1 = 33, SIGRT2 = 34, SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2 };
enum { SI_USER = 0, SI_QUEUE = -1, SI_TKILL = -6, SEGV_MAPERR = 1, SEGV_ACCERR = 2, CLD_EXITED = 1, CLD_KILLED = 2 };
enum { SS_ONSTACK = 1, SS_DISABLE = 2 };
#define SS_AUTODISARM (1u << 31)
#define SA_SIGINFO 0x4u
#define SA_ONSTACK 0x08000000u
#define SA_RESTORER 0x04000000u
#define SIG_DFL 0ul
#define BIT(s) (1ull << ((s) - 1))
#define ENOMEM_ 12
#define EOPNOTSUPP 95

struct ksigaction { unsigned long handler, flags, restorer; unsigned long long mask; };
struct ksiginfo { int signo, errno_, code; unsigned f[29]; };
struct kstack { unsigned long ss_sp; int ss_flags; unsigned long ss_size; };
extern char sig_rt_restorer[], sig_restorer[];

static long sigaction_(int sig, unsigned long handler, unsigned flags)
{
    struct ksigaction a = { handler, flags | SA_RESTORER,
                            (unsigned long)((flags & SA_SIGINFO) ? sig_rt_restorer : sig_restorer), 0 };
    return sys4(NR_rt_sigaction, sig, &a, 0, 8);
}

static unsigned long long mask_(int how, unsigned long long set)
{
    unsigned long long old = 0;
    sys4(NR_rt_sigprocmask, how, &set, &old, 8);
    return old;
}

static unsigned long long pending_(void)
{
    unsigned long long p = 0;
    sys2(NR_rt_sigpending, &p, 8);
    return p;
}

/* rt_sigtimedwait for `set` with a timeout in ms (-1: none). */
static long timedwait(unsigned long long set, struct ksiginfo *info, long ms)
{
    struct timespec32 t = { ms / 1000, (ms % 1000) * 1000000 };
    return sys4(NR_rt_sigtimedwait, &set, info, ms < 0 ? 0 : &t, 8);
}

static long queue_(long pid, int sig, int code, unsigned value)
{
    struct ksiginfo i = { 0 };
    i.signo = sig;
    i.code = code;
    i.f[0] = sys0(NR_getpid);
    i.f[1] = sys0(NR_getuid32);
    i.f[2] = value;
    return sys3(NR_rt_sigqueueinfo, pid, sig, &i);
}

static volatile struct ksiginfo last;
static volatile int hits, handler_tid, on_alt, alt_flags_seen, alt_eperm, alt_try_set;
static volatile unsigned long uc_ss_sp, uc_ss_size;
static volatile int uc_ss_flags;
static char altstack[16384] __attribute__((aligned(8)));

static void info_handler(int sig, struct ksiginfo *info, void *uc)
{
    (void)sig; (void)uc;
    last = *info;
    hits++;
    handler_tid = sys0(NR_gettid);
}

static void alt_handler(int sig, struct ksiginfo *info, void *ucv)
{
    (void)sig; (void)info;
    char here;
    unsigned long *uc = ucv;
    on_alt = (unsigned long)&here > (unsigned long)altstack && (unsigned long)&here <= (unsigned long)altstack + sizeof altstack;
    struct kstack o = { 0, 0, 0 }, n = { (unsigned long)altstack, 0, sizeof altstack };
    sys2(NR_sigaltstack, 0, &o);
    alt_flags_seen = o.ss_flags;
    alt_eperm = alt_try_set && sys2(NR_sigaltstack, &n, 0) == -EPERM;
    uc_ss_sp = uc[2]; uc_ss_flags = (int)uc[3]; uc_ss_size = uc[4];
    hits++;
}

static void plain_handler(int sig) { (void)sig; hits++; }

/* A child's fault handler writes its siginfo to shared memory and exits. */
static volatile struct ksiginfo *shared_info;
static void fault_handler(int sig, struct ksiginfo *info, void *uc)
{
    (void)sig; (void)uc;
    *shared_info = *info;
    sys_exit(0);
}

static int fault_child(volatile char *addr)
{
    sigaction_(11, (unsigned long)fault_handler, SA_SIGINFO);
    *addr = 1;
    return 9;
}

static long fork_fault(volatile char *addr)
{
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(fault_child(addr));
    int st;
    wait4(c, &st, 0);
    return st;
}

/* A thread of this process that does not block SIGUSR1, for the process
 * signal the main thread blocks; it waits until told to go. */
static long long tstk[1024], tstk2[1024];
static volatile int thread_ready, thread_go;
static int unblocked_thread(void *arg)
{
    (void)arg;
    mask_(SIG_UNBLOCK, BIT(SIGUSR1));
    thread_ready = 1;
    long end = now_ms() + 3000;
    while (!thread_go && now_ms() < end) sys0(NR_sched_yield);
    return 0;
}

static int kill_parent_later(long ms, int sig)
{
    sleep_ms(ms);
    return sys2(NR_kill, sys0(NR_getppid), sig) == 0 ? 0 : 1;
}

static long helper(long ms, int sig)
{
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(kill_parent_later(ms, sig));
    return c;
}

static int altstack_check(void)
{
    struct kstack o = { 1, 0, 1 };
    sys2(NR_sigaltstack, 0, &o);
    return o.ss_flags == SS_DISABLE && o.ss_size == 0 ? 0 : 1;
}

static int thread_alt_flags;
static int altstack_thread(void *arg) { (void)arg; struct kstack o; sys2(NR_sigaltstack, 0, &o); thread_alt_flags = o.ss_flags; return 0; }

int test_main(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc > 1 && streq(argv[1], "--altstack-check")) return altstack_check();
    tap_init(argv, 40);
    long me = sys0(NR_getpid), tid = sys0(NR_gettid);
    long uid = sys0(NR_getuid32);
    struct ksiginfo si;
    int st;

    /* kill and tkill name their sender. */
    sigaction_(SIGUSR1, (unsigned long)info_handler, SA_SIGINFO);
    hits = 0;
    sys2(NR_kill, me, SIGUSR1);
    ok(hits == 1 && last.signo == SIGUSR1 && last.errno_ == 0 && last.code == SI_USER && (long)last.f[0] == me &&
       (long)last.f[1] == uid, "kill: SI_USER with the sender's pid and uid");
    hits = 0;
    sys2(NR_tkill, tid, SIGUSR1);
    ok(hits == 1 && last.code == SI_TKILL && (long)last.f[0] == me && (long)last.f[1] == uid,
       "tkill: SI_TKILL with the sender's pid and uid");
    hits = 0;
    ok(queue_(me, SIGUSR1, SI_QUEUE, 0x5eed) == 0 && hits == 1 && last.code == SI_QUEUE && last.f[2] == 0x5eed &&
       (long)last.f[0] == me, "rt_sigqueueinfo: the caller's siginfo, si_value and all");

    /* Faults: the address and whether anything was mapped there. */
    shared_info = (volatile struct ksiginfo *)sys6(NR_mmap2, 0, 4096, 3, 0x21, -1, 0);
    volatile char *ro = (volatile char *)sys6(NR_mmap2, 0, 4096, 1 /* PROT_READ */, 0x22, -1, 0);
    volatile char *hole = (volatile char *)sys6(NR_mmap2, 0, 4096, 3, 0x22, -1, 0);
    sys2(NR_munmap, hole, 4096);
    st = fork_fault(hole + 12);
    ok(st == 0 && shared_info->signo == 11 && shared_info->code == SEGV_MAPERR &&
       shared_info->f[0] == (unsigned)(hole + 12), "SIGSEGV on an unmapped page: SEGV_MAPERR and si_addr");
    st = fork_fault(ro + 100);
    ok(st == 0 && shared_info->code == SEGV_ACCERR && shared_info->f[0] == (unsigned)(ro + 100),
       "SIGSEGV writing a read-only page: SEGV_ACCERR and si_addr");

    /* SIGCHLD: the child's pid, uid, code and status. */
    sigaction_(17, (unsigned long)info_handler, SA_SIGINFO);
    hits = 0;
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(7);
    wait4(c, &st, 0);
    ok(hits == 1 && last.signo == 17 && last.code == CLD_EXITED && (long)last.f[0] == c && (long)last.f[1] == uid &&
       last.f[2] == 7, "SIGCHLD after exit(7): CLD_EXITED, the child's pid and uid, status 7");
    hits = 0;
    c = sys0(NR_fork);
    if (c == 0) { for (;;) sys0(NR_pause); }
    sys2(NR_kill, c, 9);
    wait4(c, &st, 0);
    ok(hits == 1 && last.code == CLD_KILLED && last.f[2] == 9 && (long)last.f[0] == c,
       "SIGCHLD after SIGKILL: CLD_KILLED, status 9");
    sigaction_(17, SIG_DFL, 0);

    /* A blocked SIGCHLD waits even though its default action ignores it. */
    mask_(SIG_BLOCK, BIT(17));
    c = sys0(NR_fork);
    if (c == 0) sys_exit(3);
    wait4(c, &st, 0);
    ok(pending_() & BIT(17), "a blocked SIGCHLD (default action: ignore) stays pending");
    ok(timedwait(BIT(17), &si, 0) == 17 && si.code == CLD_EXITED && (long)si.f[0] == c && si.f[2] == 3 &&
       !(pending_() & BIT(17)), "rt_sigtimedwait takes it with its siginfo, and it is no longer pending");
    mask_(SIG_UNBLOCK, BIT(17));

    /* Real-time signals queue, each with its value, in order; standard ones merge. */
    mask_(SIG_BLOCK, BIT(SIGRT1) | BIT(SIGUSR2));
    for (unsigned v = 1; v <= 3; v++) queue_(me, SIGRT1, SI_QUEUE, v);
    sys2(NR_kill, me, SIGUSR2);
    sys2(NR_kill, me, SIGUSR2);
    ok((pending_() & (BIT(SIGRT1) | BIT(SIGUSR2))) == (BIT(SIGRT1) | BIT(SIGUSR2)), "rt_sigpending: both blocked signals");
    long a1 = timedwait(BIT(SIGRT1), &si, 0); unsigned v1 = si.f[2];
    long a2 = timedwait(BIT(SIGRT1), &si, 0); unsigned v2 = si.f[2];
    long a3 = timedwait(BIT(SIGRT1), &si, 0); unsigned v3 = si.f[2];
    ok(a1 == SIGRT1 && a2 == SIGRT1 && a3 == SIGRT1 && v1 == 1 && v2 == 2 && v3 == 3,
       "three queued SIGRTMIN+1: taken three times, values in the order sent");
    ok(timedwait(BIT(SIGRT1), &si, 0) == -EAGAIN, "... and then none is left: EAGAIN");
    ok(timedwait(BIT(SIGUSR2), &si, 0) == SIGUSR2 && timedwait(BIT(SIGUSR2), &si, 0) == -EAGAIN,
       "two kill(SIGUSR2) while blocked: one pending signal");
    long t0 = now_ms();
    ok(timedwait(BIT(SIGUSR2), &si, 60) == -EAGAIN && now_ms() - t0 >= 55, "rt_sigtimedwait with 60 ms: EAGAIN after them");
    c = helper(30, SIGUSR2);
    ok(timedwait(BIT(SIGUSR2), &si, 3000) == SIGUSR2 && (long)si.f[0] == c && si.code == SI_USER,
       "rt_sigtimedwait: a signal sent meanwhile, with its sender");
    wait4(c, &st, 0);
    /* Another signal's handler ends the wait with EINTR. */
    sigaction_(SIGUSR1, (unsigned long)plain_handler, 0);
    hits = 0;
    c = helper(30, SIGUSR1);
    ok(timedwait(BIT(SIGUSR2), &si, 3000) == -EINTR && hits == 1, "rt_sigtimedwait ended by another signal's handler: EINTR");
    wait4(c, &st, 0);
    mask_(SIG_UNBLOCK, BIT(SIGRT1) | BIT(SIGUSR2));
    /* Waiting for a fatal signal: it is taken, the process lives. */
    mask_(SIG_BLOCK, BIT(15));
    c = helper(30, 15);
    ok(timedwait(BIT(15), &si, 3000) == 15, "rt_sigtimedwait for SIGTERM takes it: the process is not killed");
    wait4(c, &st, 0);
    mask_(SIG_UNBLOCK, BIT(15));
    {
        unsigned long long set = BIT(SIGUSR2);
        long long ts64[2] = { 0, 0 };
        mask_(SIG_BLOCK, BIT(SIGUSR2));
        sys2(NR_kill, me, SIGUSR2);
        ok(sys4(NR_rt_sigtimedwait_time64, &set, 0, ts64, 8) == SIGUSR2 &&
           sys4(NR_rt_sigtimedwait_time64, &set, 0, ts64, 8) == -EAGAIN, "rt_sigtimedwait_time64 (what glibc calls first)");
        mask_(SIG_UNBLOCK, BIT(SIGUSR2));
    }

    /* RLIMIT_SIGPENDING bounds the queue (in a child: its own limit). */
    c = sys0(NR_fork);
    if (c == 0) {
        long lim[2] = { 3, 3 };
        sys2(NR_setrlimit, 11, lim);
        mask_(SIG_BLOCK, BIT(SIGRT2));
        long mypid = sys0(NR_getpid);
        int n = 0;
        while (n < 10 && queue_(mypid, SIGRT2, SI_QUEUE, n) == 0) n++;
        long over = queue_(mypid, SIGRT2, SI_QUEUE, 99);
        long k = sys2(NR_kill, mypid, SIGRT2);          /* sent, without its siginfo */
        struct ksiginfo s2;
        int took = 0;
        while (timedwait(BIT(SIGRT2), &s2, 0) == SIGRT2) took++;
        long again = queue_(mypid, SIGRT2, SI_QUEUE, 7);  /* room again */
        sys_exit((n == 3 ? 0 : 1) | (over == -EAGAIN ? 0 : 2) | (k == 0 ? 0 : 4) | (took == 3 ? 0 : 8) | (again == 0 ? 0 : 16));
    }
    wait4(c, &st, 0);
    ok(st == 0, "RLIMIT_SIGPENDING 3: three queued, the fourth EAGAIN, kill still sends; taking them makes room");

    /* A process signal goes to the thread that does not block it. */
    sigaction_(SIGUSR1, (unsigned long)info_handler, SA_SIGINFO);
    mask_(SIG_BLOCK, BIT(SIGUSR1));
    thread_ready = thread_go = 0;
    hits = 0; handler_tid = 0;
    long t = raw_clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, STACK_TOP(tstk), 0, 0, 0,
                       unblocked_thread, 0);
    long end = now_ms() + 2000;
    while (!thread_ready && now_ms() < end) sys0(NR_sched_yield);
    sys2(NR_kill, me, SIGUSR1);
    end = now_ms() + 2000;
    while (!hits && now_ms() < end) sys0(NR_sched_yield);
    ok(t > 0 && hits == 1 && handler_tid == t && !(pending_() & BIT(SIGUSR1)),
       "kill to a process whose main thread blocks the signal: its other thread runs the handler");
    thread_go = 1;
    sleep_ms(20);
    mask_(SIG_UNBLOCK, BIT(SIGUSR1));

    /* rt_sigsuspend: the shell's `wait` (every signal blocked, then suspend). */
    sigaction_(17, (unsigned long)plain_handler, 0);
    unsigned long long before = mask_(SIG_SETMASK, ~0ull);
    hits = 0;
    c = sys0(NR_fork);
    if (c == 0) { sleep_ms(20); sys_exit(7); }
    unsigned long long none = 0;
    long r = sys2(NR_rt_sigsuspend, &none, 8);
    ok(r == -EINTR && hits == 1, "rt_sigsuspend with nothing blocked: SIGCHLD's handler ran, then EINTR");
    ok(mask_(SIG_SETMASK, before) == ~(BIT(9) | BIT(19)) && wait4(c, &st, 0) == c && WEXITSTATUS(st) == 7,
       "... the old mask is back, and the child is reaped");
    sigaction_(17, SIG_DFL, 0);
    sigaction_(SIGUSR1, (unsigned long)plain_handler, 0);
    hits = 0;
    c = helper(30, SIGUSR1);
    ok(sys0(NR_pause) == -EINTR && hits == 1, "pause: EINTR once a handler ran");
    wait4(c, &st, 0);

    /* sigaltstack. */
    struct kstack o = { 1, 1, 1 }, n;
    ok(sys2(NR_sigaltstack, 0, &o) == 0 && o.ss_flags == SS_DISABLE && o.ss_size == 0, "sigaltstack: none at first (SS_DISABLE)");
    n = (struct kstack){ (unsigned long)altstack, 0, 1024 };
    ok(sys2(NR_sigaltstack, &n, 0) == -ENOMEM_, "an alternate stack below MINSIGSTKSZ: ENOMEM");
    n = (struct kstack){ (unsigned long)altstack, 5, sizeof altstack };
    ok(sys2(NR_sigaltstack, &n, 0) == -EINVAL, "unknown ss_flags: EINVAL");
    n = (struct kstack){ (unsigned long)altstack, 0, sizeof altstack };
    ok(sys2(NR_sigaltstack, &n, &o) == 0 && sys2(NR_sigaltstack, 0, &o) == 0 && o.ss_sp == (unsigned long)altstack &&
       o.ss_size == sizeof altstack && o.ss_flags == 0, "sigaltstack set, and read back (flags 0: not on it)");
    sigaction_(SIGUSR2, (unsigned long)alt_handler, SA_SIGINFO | SA_ONSTACK);
    hits = 0;
    alt_try_set = 1;
    sys2(NR_kill, me, SIGUSR2);
    ok(hits == 1 && on_alt && alt_flags_seen == SS_ONSTACK && alt_eperm,
       "SA_ONSTACK: the handler runs on it, sees SS_ONSTACK, and may not change it (EPERM)");
    ok(uc_ss_sp == (unsigned long)altstack && uc_ss_size == sizeof altstack && uc_ss_flags == 0,
       "the handler's ucontext names the alternate stack");
    c = sys0(NR_fork);
    if (c == 0) { struct kstack q; sys2(NR_sigaltstack, 0, &q); sys_exit(q.ss_sp == (unsigned long)altstack ? 0 : 1); }
    wait4(c, &st, 0);
    thread_alt_flags = 0;
    long th = raw_clone(CLONE_VM | SIGCHLD, STACK_TOP(tstk2), 0, 0, 0, altstack_thread, 0);
    int st2;
    wait4(th, &st2, 0);
    ok(st == 0 && thread_alt_flags == SS_DISABLE, "fork keeps the alternate stack; a CLONE_VM child has none");
    c = sys0(NR_fork);
    if (c == 0) {
        const char *av[] = { "/bin/t_siginfo", "--altstack-check", 0 };
        const char *ev[] = { 0 };
        sys3(NR_execve, av[0], av, ev);
        sys_exit(99);
    }
    wait4(c, &st, 0);
    ok(st == 0, "execve removes the alternate stack");
    n = (struct kstack){ (unsigned long)altstack, (int)SS_AUTODISARM, sizeof altstack };
    sys2(NR_sigaltstack, &n, 0);
    hits = 0;
    alt_try_set = 0;
    sys2(NR_kill, me, SIGUSR2);
    sys2(NR_sigaltstack, 0, &o);
    ok(hits == 1 && on_alt && alt_flags_seen == SS_DISABLE && o.ss_sp == (unsigned long)altstack &&
       (unsigned)o.ss_flags == SS_AUTODISARM, "SS_AUTODISARM: none while the handler runs, back after sigreturn");
    n = (struct kstack){ 0, SS_DISABLE, 0 };
    sys2(NR_sigaltstack, &n, 0);
    sigaction_(SIGUSR2, SIG_DFL, 0);
    sigaction_(SIGUSR1, SIG_DFL, 0);

    /* The order of the checks. */
    ok(sys2(NR_kill, 999999, 999) == -ESRCH && sys2(NR_kill, me, 999) == -EINVAL && sys2(NR_kill, (long)0x80000000, 0) == -ESRCH,
       "kill: no such process before a bad signal (ESRCH, then EINVAL); pid INT_MIN is ESRCH");
    ok(sys2(NR_tkill, 0, SIGUSR1) == -EINVAL && sys3(NR_tgkill, 0, tid, SIGUSR1) == -EINVAL &&
       sys3(NR_tgkill, me, tid, 999) == -EINVAL && sys2(NR_tkill, 999999, 999) == -ESRCH,
       "tkill/tgkill: a tid or tgid <= 0 is EINVAL; no such thread before a bad signal");
    ok(sys4(NR_rt_sigaction, 999, 0x10, 0, 8) == -EFAULT && sys4(NR_rt_sigaction, 999, 0, 0, 8) == -EINVAL,
       "rt_sigaction reads the new action before it looks at the signal");
    unsigned long long set = 0;
    ok(sys2(NR_rt_sigpending, &set, 9) == -EINVAL && sys2(NR_rt_sigpending, &set, 4) == 0 &&
       sys2(NR_rt_sigpending, 0x10, 8) == -EFAULT, "rt_sigpending: a size over 8 is EINVAL, a smaller one fine");
    struct timespec32 bad = { 0, 2000000000 };
    ok(sys2(NR_rt_sigsuspend, &set, 4) == -EINVAL && sys4(NR_rt_sigtimedwait, &set, 0, &bad, 8) == -EINVAL &&
       sys4(NR_rt_sigtimedwait, &set, 0, 0, 4) == -EINVAL, "rt_sigsuspend/rt_sigtimedwait: bad size or timeout, EINVAL");
    c = sys0(NR_fork);
    if (c == 0) { for (;;) sys0(NR_pause); }
    ok(queue_(c, SIGUSR1, SI_USER, 0) == -EPERM && queue_(c, SIGUSR1, SI_TKILL, 0) == -EPERM &&
       queue_(me, 999, SI_QUEUE, 0) == -EINVAL && sys3(NR_rt_sigqueueinfo, me, SIGUSR1, 0x10) == -EFAULT,
       "rt_sigqueueinfo: posing as kill or tkill to another process is EPERM; bad signal EINVAL; bad info EFAULT");
    {
        struct ksiginfo qi = { 0 };
        qi.code = SI_QUEUE;
        qi.f[2] = 0x77;
        mask_(SIG_BLOCK, BIT(SIGUSR1));
        long qr = sys4(NR_rt_tgsigqueueinfo, me, tid, SIGUSR1, &qi);
        ok(qr == 0 && timedwait(BIT(SIGUSR1), &si, 0) == SIGUSR1 && si.f[2] == 0x77 && si.signo == SIGUSR1,
           "rt_tgsigqueueinfo to this thread: si_signo from the call, si_value kept");
        mask_(SIG_UNBLOCK, BIT(SIGUSR1));
    }
    sys2(NR_kill, c, 9);
    wait4(c, &st, 0);
    ok(sys1(0 /* restart_syscall */, 0) == -EINTR, "restart_syscall with nothing to restart: EINTR");
    return tap_done();
}
