/* t_time - time as a Linux ARM program sees it through the raw calls:
 * every clock clock_gettime knows (and clock_getres, the time64 calls,
 * gettimeofday), clock_nanosleep relative and absolute (what glibc's sleep,
 * usleep and nanosleep call) and its refusals, the interval timers
 * (setitimer/getitimer: ITIMER_REAL's SIGALRM, which alarm() is built on,
 * ITIMER_VIRTUAL, ITIMER_PROF; not inherited by fork, kept by exec), the CPU
 * time clocks and wait4's rusage, and RLIMIT_CPU (SIGXCPU, then SIGKILL). */
#include "t.h"

enum {
    NR_gettimeofday = 78, NR_setitimer = 104, NR_getitimer = 105, NR_rt_sigaction = 174,
    NR_clock_getres = 264, NR_clock_nanosleep = 265, NR_clock_gettime64 = 403, NR_clock_getres_time64 = 406,
    NR_clock_nanosleep_time64 = 407, NR_pause = 29,
};
enum {
    CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_PROCESS_CPUTIME_ID = 2, CLOCK_THREAD_CPUTIME_ID = 3,
    CLOCK_MONOTONIC_RAW = 4, CLOCK_REALTIME_COARSE = 5, CLOCK_MONOTONIC_COARSE = 6, CLOCK_BOOTTIME = 7,
    CLOCK_TAI = 11, TIMER_ABSTIME = 1, ITIMER_REAL = 0, ITIMER_VIRTUAL = 1, ITIMER_PROF = 2,
    SIGUSR1 = 10, SIGALRM = 14, SIGXCPU = 24, SIGVTALRM = 26, SIGPROF = 27, EOPNOTSUPP = 95,
};
#define SA_SIGINFO 0x4u
#define SA_RESTORER 0x04000000u
#define SI_KERNEL 0x80

struct ksigaction { unsigned long handler, flags, restorer; unsigned long long mask; };
struct timeval32 { long tv_sec, tv_usec; };
struct itimerval32 { struct timeval32 interval, value; };
struct timespec64 { long long tv_sec; long tv_nsec, pad; };
extern char sig_rt_restorer[];

static long sigaction_(int sig, void *handler)
{
    struct ksigaction a = { (unsigned long)handler, SA_SIGINFO | SA_RESTORER, (unsigned long)sig_rt_restorer, 0 };
    return sys4(NR_rt_sigaction, sig, &a, 0, 8);
}

static long long ns_of(struct timespec32 t) { return (long long)t.tv_sec * 1000000000 + t.tv_nsec; }
static long long clock_ns(int clock)
{
    struct timespec32 t = { -1, -1 };
    if (sys2(NR_clock_gettime, clock, &t) != 0) return -1;
    return ns_of(t);
}

static volatile int alarms, vtalrms, profs, xcpus, last_code;
static volatile long xcpu_cur;
static void on_signal(int sig, int *info, void *uc)
{
    (void)uc;
    last_code = info[2];
    if (sig == SIGALRM) alarms++;
    if (sig == SIGVTALRM) vtalrms++;
    if (sig == SIGPROF) profs++;
    if (sig == SIGUSR1) alarms += 100;
}

static volatile int *shared;
static void on_xcpu(int sig, int *info, void *uc)
{
    (void)sig; (void)info; (void)uc;
    long lim[2];
    sys2(NR_ugetrlimit, 0, lim);
    shared[0]++;
    shared[1] = (int)lim[0];
}

/* Spins in user mode until `flag` moves or `ms` of wall time pass. */
static void spin_until(volatile int *flag, int start, long ms)
{
    long end = now_ms() + ms;
    while (*flag == start && now_ms() < end)
        for (volatile int i = 0; i < 20000; i++) {}
}

static int itimer_check(void)
{
    struct itimerval32 v;
    sys2(NR_getitimer, ITIMER_REAL, &v);
    /* Armed by the program before the exec, still counting down. */
    return v.value.tv_sec == 0 && v.value.tv_usec == 0 ? 1 : 0;
}

static int sleep_interrupter(void)
{
    sleep_ms(50);
    return sys2(NR_kill, sys0(NR_getppid), SIGUSR1) == 0 ? 0 : 1;
}

int test_main(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc > 1 && streq(argv[1], "--itimer-check")) return itimer_check();
    tap_init(argv, 28);
    shared = (volatile int *)sys6(NR_mmap2, 0, 4096, 3, 0x21, -1, 0);
    int st;

    /* The clocks. */
    static const int clocks[] = { 0, 1, 2, 3, 4, 5, 6, 7, 11 };
    int all = 1;
    for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec32 t = { -1, -1 };
        if (sys2(NR_clock_gettime, clocks[i], &t) != 0 || t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= 1000000000) all = 0;
    }
    ok(all, "clock_gettime: REALTIME, MONOTONIC, both CPU clocks, MONOTONIC_RAW, both COARSE, BOOTTIME, TAI");
    struct timespec32 t;
    ok(sys2(NR_clock_gettime, 10, &t) == -EINVAL && sys2(NR_clock_gettime, 12, &t) == -EINVAL &&
       sys2(NR_clock_gettime, 99, &t) == -EINVAL && sys2(NR_clock_gettime, CLOCK_MONOTONIC, 0x10) == -EFAULT,
       "clock_gettime: unknown clocks EINVAL, a bad pointer EFAULT");
    long long rc = clock_ns(CLOCK_REALTIME_COARSE), r = clock_ns(CLOCK_REALTIME);
    long long mc = clock_ns(CLOCK_MONOTONIC_COARSE), m = clock_ns(CLOCK_MONOTONIC);
    long long b = clock_ns(CLOCK_BOOTTIME), tai = clock_ns(CLOCK_TAI);
    ok(r > 1577836800LL * 1000000000 && rc <= r && r - rc < 1000000000LL, "CLOCK_REALTIME is after 2020; its COARSE twin a little behind");
    ok(mc <= m && m - mc < 1000000000LL && b >= m && tai >= r, "MONOTONIC_COARSE <= MONOTONIC <= BOOTTIME; TAI >= REALTIME");
    long long raw0 = clock_ns(CLOCK_MONOTONIC_RAW);
    sleep_ms(20);
    ok(clock_ns(CLOCK_MONOTONIC_RAW) - raw0 >= 19000000, "MONOTONIC_RAW moves with time");
    int res_ok = 1;
    long long coarse_res = 0, fine_res = 0;
    for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec32 res = { -1, -1 };
        if (sys2(NR_clock_getres, clocks[i], &res) != 0 || res.tv_sec != 0 || res.tv_nsec <= 0 || res.tv_nsec > 10000000) res_ok = 0;
        if (clocks[i] == CLOCK_MONOTONIC_COARSE) coarse_res = res.tv_nsec;
        if (clocks[i] == CLOCK_MONOTONIC) fine_res = res.tv_nsec;
    }
    ok(res_ok && coarse_res >= fine_res && sys2(NR_clock_getres, CLOCK_MONOTONIC, 0) == 0 &&
       sys2(NR_clock_getres, 10, &t) == -EINVAL, "clock_getres: between 1 ns and a tick, COARSE no finer; null is fine; EINVAL");
    struct timespec64 t64 = { -1, -1, 0 };
    struct timespec32 t32;
    sys2(NR_clock_gettime, CLOCK_MONOTONIC, &t32);
    long g64 = sys2(NR_clock_gettime64, CLOCK_MONOTONIC, &t64);
    struct timespec64 r64 = { -1, -1, 0 };
    ok(g64 == 0 && t64.tv_sec - t32.tv_sec <= 1 && t64.tv_sec >= t32.tv_sec && t64.tv_nsec < 1000000000 &&
       sys2(NR_clock_getres_time64, CLOCK_MONOTONIC, &r64) == 0 && r64.tv_sec == 0 && r64.tv_nsec > 0,
       "clock_gettime64 and clock_getres_time64 (what glibc calls first)");
    struct timeval32 tv = { -1, -1 };
    int tz[2] = { 7, 7 };
    long long now = clock_ns(CLOCK_REALTIME);
    ok(sys2(NR_gettimeofday, &tv, tz) == 0 && tv.tv_usec >= 0 && tv.tv_usec < 1000000 &&
       tv.tv_sec - now / 1000000000 <= 1 && tv.tv_sec >= now / 1000000000 && tz[0] == 0 && tz[1] == 0,
       "gettimeofday: CLOCK_REALTIME in microseconds, time zone UTC");

    /* clock_nanosleep. */
    long long t0 = clock_ns(CLOCK_MONOTONIC);
    struct timespec32 d = { 0, 30000000 };
    ok(sys4(NR_clock_nanosleep, CLOCK_MONOTONIC, 0, &d, 0) == 0 && clock_ns(CLOCK_MONOTONIC) - t0 >= 30000000,
       "clock_nanosleep(MONOTONIC, 30 ms) sleeps at least that");
    t0 = clock_ns(CLOCK_MONOTONIC);
    struct timespec32 at = { (t0 + 30000000) / 1000000000, (t0 + 30000000) % 1000000000 };
    ok(sys4(NR_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &at, 0) == 0 && clock_ns(CLOCK_MONOTONIC) >= ns_of(at),
       "clock_nanosleep(MONOTONIC, TIMER_ABSTIME) wakes once the clock reads the time");
    long long rt0 = clock_ns(CLOCK_REALTIME) + 30000000;
    struct timespec32 rat = { rt0 / 1000000000, rt0 % 1000000000 };
    ok(sys4(NR_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME, &rat, 0) == 0 && clock_ns(CLOCK_REALTIME) >= rt0,
       "clock_nanosleep(REALTIME, TIMER_ABSTIME) too");
    struct timespec32 past = { 0, 1 };
    t0 = clock_ns(CLOCK_MONOTONIC);
    ok(sys4(NR_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &past, 0) == 0 && clock_ns(CLOCK_MONOTONIC) - t0 < 20000000,
       "an absolute time already past: back at once");
    struct timespec64 d64 = { 0, 20000000, 0 };
    t0 = clock_ns(CLOCK_MONOTONIC);
    ok(sys4(NR_clock_nanosleep_time64, CLOCK_MONOTONIC, 0, &d64, 0) == 0 && clock_ns(CLOCK_MONOTONIC) - t0 >= 20000000,
       "clock_nanosleep_time64 sleeps too");
    struct timespec32 bad = { 0, 1000000000 }, neg = { -1, 0 };
    ok(sys4(NR_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &d, 0) == -EOPNOTSUPP &&
       sys4(NR_clock_nanosleep, CLOCK_MONOTONIC_COARSE, 0, &d, 0) == -EOPNOTSUPP &&
       sys4(NR_clock_nanosleep, CLOCK_MONOTONIC_RAW, 0, &d, 0) == -EOPNOTSUPP &&
       sys4(NR_clock_nanosleep, 99, 0, &d, 0) == -EINVAL && sys4(NR_clock_nanosleep, CLOCK_MONOTONIC, 0, &bad, 0) == -EINVAL &&
       sys4(NR_clock_nanosleep, CLOCK_MONOTONIC, 0, &neg, 0) == -EINVAL &&
       sys4(NR_clock_nanosleep, CLOCK_MONOTONIC, 0, 0x10, 0) == -EFAULT,
       "clock_nanosleep refuses: the thread CPU clock, COARSE and RAW EOPNOTSUPP, bad clock or time EINVAL, EFAULT");
    sigaction_(SIGUSR1, on_signal);
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(sleep_interrupter());
    struct timespec32 one = { 1, 0 }, rem = { 9, 9 };
    alarms = 0;
    long rr = sys4(NR_clock_nanosleep, CLOCK_MONOTONIC, 0, &one, &rem);
    wait4(c, &st, 0);
    ok(rr == -EINTR && alarms == 100 && rem.tv_sec == 0 && rem.tv_nsec > 500000000,
       "clock_nanosleep ended by a handler: EINTR, the time left in rem");
    c = sys0(NR_fork);
    if (c == 0) sys_exit(sleep_interrupter());
    long long abs_end = clock_ns(CLOCK_MONOTONIC) + 1000000000;
    struct timespec32 aend = { abs_end / 1000000000, abs_end % 1000000000 };
    rem = (struct timespec32){ 9, 9 };
    rr = sys4(NR_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &aend, &rem);
    wait4(c, &st, 0);
    ok(rr == -EINTR && rem.tv_sec == 9 && rem.tv_nsec == 9, "an absolute sleep ended by a handler: EINTR, rem untouched");

    /* ITIMER_REAL: SIGALRM, from the kernel. */
    sigaction_(SIGALRM, on_signal);
    struct itimerval32 set = { { 0, 0 }, { 0, 50000 } }, cur, old;
    alarms = 0;
    t0 = clock_ns(CLOCK_MONOTONIC);
    ok(sys3(NR_setitimer, ITIMER_REAL, &set, 0) == 0 && sys2(NR_getitimer, ITIMER_REAL, &cur) == 0 &&
       cur.value.tv_sec == 0 && cur.value.tv_usec > 0 && cur.value.tv_usec <= 50000 && cur.interval.tv_usec == 0,
       "setitimer(ITIMER_REAL, 50 ms); getitimer: between 0 and 50 ms left, no interval");
    long end = now_ms() + 2000;
    while (!alarms && now_ms() < end) sys0(NR_pause);
    ok(alarms == 1 && clock_ns(CLOCK_MONOTONIC) - t0 >= 50000000 && last_code == SI_KERNEL,
       "SIGALRM came after the 50 ms, from the kernel (SI_KERNEL)");
    ok(sys2(NR_getitimer, ITIMER_REAL, &cur) == 0 && cur.value.tv_sec == 0 && cur.value.tv_usec == 0,
       "a one-shot timer is off after it fired");
    set = (struct itimerval32){ { 0, 20000 }, { 0, 20000 } };
    alarms = 0;
    sys3(NR_setitimer, ITIMER_REAL, &set, 0);
    end = now_ms() + 3000;
    while (alarms < 3 && now_ms() < end) sys0(NR_pause);
    struct itimerval32 zero = { { 0, 0 }, { 0, 0 } };
    int n_alarms = alarms;
    long disarm = sys3(NR_setitimer, ITIMER_REAL, &zero, &old);
    if (!ok(n_alarms >= 3 && disarm == 0 && old.interval.tv_usec == 20000 && old.value.tv_sec == 0 &&
            old.value.tv_usec > 0 && old.value.tv_usec <= 20000, "an interval of 20 ms: SIGALRM again and again; the old value comes back")) {
        diag("alarms", n_alarms);
        diag("old value s", old.value.tv_sec);
        diag("old value us", old.value.tv_usec);
        diag("old interval us", old.interval.tv_usec);
    }
    set = (struct itimerval32){ { 0, 0 }, { 5, 0 } };
    sys3(NR_setitimer, ITIMER_REAL, &set, 0);
    c = sys0(NR_fork);
    if (c == 0) { struct itimerval32 v; sys2(NR_getitimer, ITIMER_REAL, &v); sys_exit(v.value.tv_sec == 0 && v.value.tv_usec == 0 ? 0 : 1); }
    wait4(c, &st, 0);
    int forked = st;
    c = sys0(NR_fork);
    if (c == 0) {
        sys3(NR_setitimer, ITIMER_REAL, &set, 0);
        const char *av[] = { "/bin/t_time", "--itimer-check", 0 };
        const char *ev[] = { 0 };
        sys3(NR_execve, av[0], av, ev);
        sys_exit(99);
    }
    wait4(c, &st, 0);
    ok(forked == 0 && st == 0, "fork does not inherit the interval timer; execve keeps it");
    ok(sys3(NR_setitimer, ITIMER_REAL, 0, &old) == 0 && old.value.tv_sec >= 4 && sys2(NR_getitimer, ITIMER_REAL, &cur) == 0 &&
       cur.value.tv_sec == 0 && cur.value.tv_usec == 0, "setitimer with a null value disarms it");
    struct itimerval32 badv = { { 0, 0 }, { 0, 1000000 } };
    ok(sys3(NR_setitimer, ITIMER_REAL, &badv, 0) == -EINVAL && sys3(NR_setitimer, 3, &set, 0) == -EINVAL &&
       sys2(NR_getitimer, 3, &cur) == -EINVAL && sys3(NR_setitimer, ITIMER_REAL, 0x10, 0) == -EFAULT &&
       sys2(NR_getitimer, ITIMER_REAL, 0x10) == -EFAULT, "setitimer/getitimer refuse a bad time, which or pointer");

    /* CPU time: ITIMER_VIRTUAL and ITIMER_PROF, the CPU clocks. */
    sigaction_(SIGVTALRM, on_signal);
    sigaction_(SIGPROF, on_signal);
    long long p0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), th0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    set = (struct itimerval32){ { 0, 0 }, { 0, 30000 } };
    vtalrms = profs = 0;
    sys3(NR_setitimer, ITIMER_VIRTUAL, &set, 0);
    spin_until(&vtalrms, 0, 3000);
    sys3(NR_setitimer, ITIMER_PROF, &set, 0);
    spin_until(&profs, 0, 3000);
    ok(vtalrms == 1 && profs == 1, "ITIMER_VIRTUAL and ITIMER_PROF fire after CPU time (SIGVTALRM, SIGPROF)");
    long long th1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    long long p1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);   /* (after: it includes the thread's time) */
    diag("process CPU ms", (long)((p1 - p0) / 1000000));
    diag("thread CPU ms", (long)((th1 - th0) / 1000000));
    ok(p1 - p0 >= 40000000 && th1 - th0 >= 40000000 && p1 >= th1, "the process and thread CPU clocks counted that time");
    c = sys0(NR_fork);
    if (c == 0) { int f = 0; spin_until(&f, 0, 150); sys_exit(0); }
    long ru[18] = { 0 };
    ok(sys4(NR_wait4, c, &st, 0, ru) == c && ru[0] * 1000000 + ru[1] >= 50000,
       "wait4's rusage: the child's user time");

    /* RLIMIT_CPU: SIGXCPU at the soft limit (which moves up a second), SIGKILL at the hard one. */
    shared[0] = shared[1] = 0;
    c = sys0(NR_fork);
    if (c == 0) {
        sigaction_(SIGXCPU, on_xcpu);
        long lim[2] = { 1, 2 };
        sys2(NR_setrlimit, 0, lim);
        int f = 0;
        spin_until(&f, 0, 20000);
        sys_exit(1);
    }
    ok(wait_bounded(c, &st, 25000) == c && WIFSIGNALED(st) && WTERMSIG(st) == 9 && shared[0] == 1 && shared[1] == 2,
       "RLIMIT_CPU 1 s / 2 s: one SIGXCPU (the soft limit then 2 s), then SIGKILL");
    c = sys0(NR_fork);
    if (c == 0) {
        long lim[2] = { 1, -1 };
        sys2(NR_setrlimit, 0, lim);
        int f = 0;
        spin_until(&f, 0, 20000);
        sys_exit(1);
    }
    ok(wait_bounded(c, &st, 25000) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU,
       "RLIMIT_CPU without a handler: SIGXCPU ends the process");
    return tap_done();
}
