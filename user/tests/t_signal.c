/* t_signal - signal handlers as a Linux ARM program sees them, through the
 * raw system calls: rt_sigaction with SA_RESTORER (as every C library
 * calls it), delivery on return from the kernel, SA_SIGINFO's siginfo and
 * ucontext, registers and VFP state back after the handler, the signal
 * blocked while its handler runs (SA_NODEFER, SA_RESETHAND), rt_sigprocmask,
 * SIG_IGN, a blocked fatal signal waiting for its unblocking, SIGCHLD (a
 * handler; SIG_IGN reaping children), EINTR versus SA_RESTART, fork keeping
 * handlers and exec resetting them, and the EINVALs. */
#include "t.h"

enum { NR_sigreturn = 119, NR_rt_sigaction = 174, NR_rt_sigprocmask = 175 };
enum { SIGUSR1 = 10, SIGUSR2 = 12, SIGURG = 23, SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2 };
#define SA_SIGINFO 0x4u
#define SA_RESTORER 0x04000000u
#define SA_RESTART 0x10000000u
#define SA_NODEFER 0x40000000u
#define SA_RESETHAND 0x80000000u
#define SIG_DFL 0ul
#define SIG_IGN 1ul
#define BIT(s) (1ull << ((s) - 1))

struct ksigaction { unsigned long handler, flags, restorer; unsigned long long mask; };
extern char sig_rt_restorer[], sig_restorer[];
int kill_keeps_registers(long pid, long sig);

static long sigaction_(int sig, unsigned long handler, unsigned flags, unsigned long long mask)
{
    struct ksigaction a = { handler, flags | SA_RESTORER,
                            (unsigned long)((flags & SA_SIGINFO) ? sig_rt_restorer : sig_restorer), mask };
    return sys4(NR_rt_sigaction, sig, &a, 0, 8);
}

static unsigned long long mask_(int how, unsigned long long set)
{
    unsigned long long old = 0;
    sys4(NR_rt_sigprocmask, how, &set, &old, 8);
    return old;
}

static volatile int hits, depth, max_depth, last_sig, info_signo, pc_seen, mask_seen_ok;

static void handler(int sig)
{
    hits++;
    last_sig = sig;
    depth++;
    if (depth > max_depth) max_depth = depth;
    if (hits == 1 && sig == SIGUSR2) sys2(NR_kill, sys0(NR_getpid), SIGUSR2);   /* again, from inside */
    /* Some VFP work of its own (it must not leak into the interrupted code). */
    volatile double x = 2.25;
    x = x * 3.0 + 1.0;
    (void)x;
    depth--;
}

struct ucontext_arm {
    unsigned long uc_flags, uc_link, ss_sp, ss_flags, ss_size;
    unsigned long trap_no, error_code, oldmask, r[11], fp, ip, sp, lr, pc, cpsr, fault_address;
    unsigned long long sigmask;
};

static void info_handler(int sig, void *info, void *ucv)
{
    struct ucontext_arm *uc = ucv;
    hits++;
    info_signo = ((int *)info)[0];
    pc_seen = uc->pc != 0 && (uc->cpsr & 0x1f) == 0x10;
    mask_seen_ok = uc->sigmask == BIT(SIGUSR2);   /* the mask before delivery */
    (void)sig;
}

/* SIGSEGV: the handler makes the page writable; the store then runs again. */
static volatile char *segv_page;
static void segv_handler(int sig)
{
    (void)sig;
    hits++;
    sys3(NR_mprotect, (long)segv_page, 4096, 3);
}

static int blocked_segv_child(void)
{
    sigaction_(SIGSEGV, (unsigned long)segv_handler, 0, 0);
    mask_(SIG_BLOCK, BIT(SIGSEGV));
    segv_page[0] = 1;                           /* a blocked SIGSEGV still ends it */
    return 4;
}

static int run_child(int (*f)(void))
{
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(f());
    int st = -1;
    wait4(c, &st, 0);
    return st;
}

static volatile int *shared;

static int resethand_child(void)
{
    hits = 0;
    sigaction_(SIGUSR1, (unsigned long)handler, SA_RESETHAND, 0);
    sys2(NR_kill, sys0(NR_getpid), SIGUSR1);
    if (hits != 1) return 1;
    sys2(NR_kill, sys0(NR_getpid), SIGUSR1);   /* SIG_DFL now: the end */
    return 2;
}

static int ignored_term_child(void)
{
    sigaction_(SIGTERM, SIG_IGN, 0, 0);
    return sys2(NR_kill, sys0(NR_getpid), SIGTERM) == 0 ? 6 : 7;
}

static int blocked_term_child(void)
{
    mask_(SIG_BLOCK, BIT(SIGTERM));
    sys2(NR_kill, sys0(NR_getpid), SIGTERM);
    shared[0] = 1;                              /* still here: it waits */
    mask_(SIG_UNBLOCK, BIT(SIGTERM));           /* and now it acts */
    return 3;
}

static int exec_check(void)
{
    struct ksigaction o1, o2;
    sys4(NR_rt_sigaction, SIGUSR1, 0, &o1, 8);
    sys4(NR_rt_sigaction, SIGUSR2, 0, &o2, 8);
    unsigned long long m = mask_(SIG_BLOCK, 0);
    return (o1.handler == SIG_DFL ? 0 : 1) | (o2.handler == SIG_IGN ? 0 : 2) | (m == BIT(SIGURG) ? 0 : 4);
}

static int exec_child(void)
{
    sigaction_(SIGUSR1, (unsigned long)handler, 0, 0);
    sigaction_(SIGUSR2, SIG_IGN, 0, 0);
    mask_(SIG_SETMASK, BIT(SIGURG));
    const char *av[] = { "/bin/t_signal", "--exec-check", 0 };
    const char *ev[] = { 0 };
    sys3(NR_execve, av[0], av, ev);
    return 99;
}

static int interrupter(void)
{
    sleep_ms(30);
    sys2(NR_kill, sys0(NR_getppid), SIGUSR1);
    return 0;
}

static int sleeper_child(void) { sleep_ms(200); return 5; }

/* wait4 on a child that takes 200 ms, interrupted after 30 ms by SIGUSR1
 * from another child; returns what wait4 said. */
static long interrupted_wait(unsigned flags, int *st)
{
    sigaction_(SIGUSR1, (unsigned long)handler, flags, 0);
    long slow = sys0(NR_fork);
    if (slow == 0) sys_exit(sleeper_child());
    long fast = sys0(NR_fork);
    if (fast == 0) sys_exit(interrupter());
    long r = wait4(slow, st, 0);
    int s2;
    if (r != slow) wait4(slow, &s2, 0);
    wait4(fast, &s2, 0);
    return r;
}

int test_main(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc > 1 && streq(argv[1], "--exec-check")) return exec_check();
    tap_init(argv, 25);
    long me = sys0(NR_getpid);
    shared = (volatile int *)sys6(NR_mmap2, 0, 4096, 3, 0x21 /* MAP_SHARED|MAP_ANONYMOUS */, -1, 0);

    /* A handler runs before kill returns, with the signal number. */
    ok(sigaction_(SIGUSR1, (unsigned long)handler, 0, 0) == 0, "rt_sigaction installs a handler");
    hits = 0;
    long k = sys2(NR_kill, me, SIGUSR1);
    ok(k == 0 && hits == 1 && last_sig == SIGUSR1, "the handler ran once, with SIGUSR1, before kill returned");

    /* r2, r3, r12, d0 and d8 are the interrupted code's again afterwards. */
    hits = 0;
    ok(kill_keeps_registers(me, SIGUSR1) == 0 && hits == 1, "registers and VFP registers come back after the handler");

    /* SA_SIGINFO: siginfo's si_signo, and the ucontext of the interrupted code. */
    mask_(SIG_SETMASK, BIT(SIGUSR2));
    sigaction_(SIGUSR1, (unsigned long)info_handler, SA_SIGINFO, 0);
    hits = 0;
    sys2(NR_kill, me, SIGUSR1);
    ok(hits == 1 && info_signo == SIGUSR1 && pc_seen && mask_seen_ok, "SA_SIGINFO: siginfo and a ucontext with the user pc, cpsr and mask");
    ok(mask_(SIG_SETMASK, 0) == BIT(SIGUSR2), "sigreturn put the mask back as it was");

    /* Blocked: pending until unblocked, then delivered at once. */
    sigaction_(SIGUSR1, (unsigned long)handler, 0, 0);
    hits = 0;
    mask_(SIG_BLOCK, BIT(SIGUSR1));
    sys2(NR_kill, me, SIGUSR1);
    int while_blocked = hits;
    mask_(SIG_UNBLOCK, BIT(SIGUSR1));
    ok(while_blocked == 0 && hits == 1, "rt_sigprocmask: a blocked signal waits, and comes on unblocking");

    /* While its handler runs a signal is blocked; SA_NODEFER lets it nest. */
    sigaction_(SIGUSR2, (unsigned long)handler, 0, 0);
    hits = 0; max_depth = 0;
    sys2(NR_kill, me, SIGUSR2);
    ok(hits == 2 && max_depth == 1, "the signal is blocked in its own handler: the second one came after");
    sigaction_(SIGUSR2, (unsigned long)handler, SA_NODEFER, 0);
    hits = 0; max_depth = 0;
    sys2(NR_kill, me, SIGUSR2);
    ok(hits == 2 && max_depth == 2, "SA_NODEFER: the handler nests");

    /* SA_RESETHAND: once, then the default action. */
    int st = run_child(resethand_child);
    ok((st & 0x7f) == SIGUSR1, "SA_RESETHAND: the handler once, then SIGUSR1's default ends the process");

    /* SIG_IGN. */
    /* (In a child: were it not ignored, SIGTERM would end it, and the
     * parent sees how it ended.) */
    st = run_child(ignored_term_child);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 6, "SIGTERM set to SIG_IGN: the process lives on after kill");

    /* A blocked fatal signal acts only once unblocked. */
    shared[0] = 0;
    st = run_child(blocked_term_child);
    ok((st & 0x7f) == SIGTERM && shared[0] == 1, "a blocked SIGTERM waits for its unblocking, then ends the process");

    /* SIGCHLD: a handler runs when a child exits; SIG_IGN reaps children. */
    sigaction_(SIGCHLD, (unsigned long)handler, 0, 0);
    hits = 0;
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(0);
    int s;
    wait4(c, &s, 0);
    ok(hits == 1 && last_sig == SIGCHLD, "SIGCHLD reaches its handler when a child exits");
    sigaction_(SIGCHLD, SIG_IGN, 0, 0);
    c = sys0(NR_fork);
    if (c == 0) { sleep_ms(20); sys_exit(0); }
    ok(wait4(-1, &s, 0) == -ECHILD, "SIGCHLD set to SIG_IGN: the child is reaped by nobody, wait4 says ECHILD");
    sigaction_(SIGCHLD, SIG_DFL, 0, 0);

    /* A handler without SA_RESTART makes wait4 fail with EINTR; with it,
     * wait4 goes on and returns the child. */
    ok(interrupted_wait(0, &s) == -EINTR, "wait4 interrupted by a handler: EINTR");
    long r = interrupted_wait(SA_RESTART, &s);
    ok(r > 0 && (s >> 8) == 5, "with SA_RESTART: wait4 restarted and reaped its child");

    /* SA_NOCLDWAIT: with SIGCHLD's default action, still no zombie. */
    sigaction_(SIGCHLD, SIG_DFL, 0x2 /* SA_NOCLDWAIT */, 0);
    c = sys0(NR_fork);
    if (c == 0) { sleep_ms(20); sys_exit(0); }
    ok(wait4(-1, &s, 0) == -ECHILD, "SA_NOCLDWAIT: the child leaves no zombie, wait4 says ECHILD");
    sigaction_(SIGCHLD, SIG_DFL, 0, 0);

    /* nanosleep ended by a handler: EINTR and the time left in rem. */
    sigaction_(SIGUSR1, (unsigned long)handler, 0, 0);
    long fast = sys0(NR_fork);
    if (fast == 0) sys_exit(interrupter());
    struct timespec32 one = { 1, 0 }, rem = { 9, 9 };
    long nr = sys2(NR_nanosleep, &one, &rem);
    wait4(fast, &s, 0);
    ok(nr == -EINTR && rem.tv_sec == 0 && rem.tv_nsec > 500000000, "nanosleep ended by a handler: EINTR, most of the second left in rem");

    /* tkill: to one thread, here the caller itself. */
    hits = 0;
    ok(sys2(238 /* tkill */, sys0(NR_gettid), SIGUSR1) == 0 && hits == 1, "tkill runs the thread's handler");

    /* fork keeps handlers and the mask; exec resets handlers, keeps SIG_IGN and the mask. */
    sigaction_(SIGUSR1, (unsigned long)handler, 0, 0);
    mask_(SIG_SETMASK, BIT(SIGURG));
    c = sys0(NR_fork);
    if (c == 0) {
        struct ksigaction o;
        sys4(NR_rt_sigaction, SIGUSR1, 0, &o, 8);
        sys_exit(o.handler == (unsigned long)handler && mask_(SIG_BLOCK, 0) == BIT(SIGURG) ? 0 : 1);
    }
    wait4(c, &s, 0);
    ok(s == 0, "fork: the child has the parent's handlers and mask");
    mask_(SIG_SETMASK, 0);
    st = run_child(exec_child);
    ok(st == 0, "execve: handlers back to SIG_DFL, SIG_IGN and the mask kept");

    /* Faults: a handler may repair what faulted; a blocked one cannot stop it. */
    segv_page = (volatile char *)sys6(NR_mmap2, 0, 4096, 1 /* PROT_READ */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
    sigaction_(SIGSEGV, (unsigned long)segv_handler, 0, 0);
    hits = 0;
    segv_page[5] = 7;
    ok(hits == 1 && segv_page[5] == 7, "a fault runs the SIGSEGV handler, which fixes the page; the store runs again");
    sys3(NR_mprotect, (long)segv_page, 4096, 1);
    sigaction_(SIGSEGV, SIG_DFL, 0, 0);
    st = run_child(blocked_segv_child);
    ok((st & 0x7f) == SIGSEGV, "a fault with SIGSEGV blocked ends the process all the same");

    /* The refusals. */
    struct ksigaction a = { (unsigned long)handler, SA_RESTORER, (unsigned long)sig_restorer, 0 };
    ok(sys4(NR_rt_sigaction, SIGKILL, &a, 0, 8) == -EINVAL && sys4(NR_rt_sigaction, 19, &a, 0, 8) == -EINVAL,
       "rt_sigaction on SIGKILL or SIGSTOP: EINVAL");
    ok(sys4(NR_rt_sigaction, SIGUSR1, &a, 0, 4) == -EINVAL && sys4(NR_rt_sigaction, 0, &a, 0, 8) == -EINVAL &&
       sys4(NR_rt_sigaction, 65, &a, 0, 8) == -EINVAL, "rt_sigaction with a bad size or number: EINVAL");
    unsigned long long set = 0;
    ok(sys4(NR_rt_sigprocmask, 7, &set, 0, 8) == -EINVAL && sys4(NR_rt_sigprocmask, SIG_BLOCK, &set, 0, 4) == -EINVAL,
       "rt_sigprocmask with a bad how or size: EINVAL");
    return tap_done();
}
