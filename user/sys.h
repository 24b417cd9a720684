/* user/sys.h - raw Linux ARM EABI system calls for the user programs
 * (built with -nostdlib: no libc, so the ABI is exactly the kernel's), and
 * a tiny TAP helper for the test programs of user/tests/. */
#ifndef SYS_H
#define SYS_H
typedef unsigned int u32;

static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r0 __asm__("r0") = a;
    register long r1 __asm__("r1") = b;
    register long r2 __asm__("r2") = c;
    register long r3 __asm__("r3") = d;
    register long r4 __asm__("r4") = e;
    register long r5 __asm__("r5") = f;
    register long r7 __asm__("r7") = n;
    __asm__ volatile("svc #0" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r3), "r"(r4), "r"(r5), "r"(r7) : "memory");
    return r0;
}
#define sys0(n) sys6(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/* Linux ARM EABI system-call numbers. */
enum {
    NR_exit = 1, NR_fork = 2, NR_read = 3, NR_write = 4, NR_execve = 11, NR_getpid = 20,
    NR_kill = 37, NR_brk = 45, NR_getppid = 64, NR_setrlimit = 75, NR_wait4 = 114,
    NR_clone = 120, NR_uname = 122, NR_sched_yield = 158, NR_nanosleep = 162, NR_vfork = 190,
    NR_ugetrlimit = 191, NR_getuid32 = 199, NR_setuid32 = 213, NR_gettid = 224, NR_futex = 240,
    NR_exit_group = 248, NR_set_tid_address = 256, NR_clock_gettime = 263,
    NR_munmap = 91, NR_writev = 146, NR_mmap2 = 192, NR_mprotect = 125, NR_madvise = 220,
    NR_ARM_set_tls = 0xf0005,
};

/* errno values, clone flags, wait4 options, signals (Linux's). */
enum { EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, E2BIG = 7, ENOEXEC = 8, ECHILD = 10,
       EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14, EINVAL = 22, ETIMEDOUT = 110 };
enum {
    CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800,
    CLONE_PIDFD = 0x1000, CLONE_VFORK = 0x4000, CLONE_PARENT = 0x8000, CLONE_THREAD = 0x10000,
    CLONE_NEWNS = 0x20000, CLONE_SYSVSEM = 0x40000, CLONE_SETTLS = 0x80000,
    CLONE_PARENT_SETTID = 0x100000, CLONE_CHILD_CLEARTID = 0x200000, CLONE_DETACHED = 0x400000,
    CLONE_CHILD_SETTID = 0x1000000, CLONE_NEWUSER = 0x10000000, CLONE_NEWPID = 0x20000000,
};
enum { WNOHANG = 1, WALL = 0x40000000, WCLONE = (int)0x80000000 };
enum { SIGKILL = 9, SIGSEGV = 11, SIGTERM = 15, SIGCHLD = 17 };
enum { FUTEX_WAIT = 0, FUTEX_WAKE = 1 };
#define WIFEXITED(s) (((s) & 0x7f) == 0)
#define WEXITSTATUS(s) (((s) >> 8) & 0xff)
#define WIFSIGNALED(s) (((s) & 0x7f) != 0 && ((s) & 0x7f) != 0x7f)
#define WTERMSIG(s) ((s) & 0x7f)

struct timespec32 { long tv_sec, tv_nsec; };

static inline unsigned long slen(const char *s) { unsigned long n = 0; while (s[n]) n++; return n; }
static inline void puts1(const char *s) { sys3(NR_write, 1, s, slen(s)); }
/* Decimal without a divide instruction (not every ARMv7 has one): v / 10
 * as a multiply by the reciprocal, exact for every 32-bit v. */
static inline unsigned long div10(unsigned long v) { return (unsigned long)(((unsigned long long)v * 0xCCCCCCCDull) >> 35); }
static inline void putnum(unsigned long v)
{
    char b[12]; int i = 11; b[i] = 0;
    do { unsigned long q = div10(v); b[--i] = '0' + (v - q * 10); v = q; } while (v);
    puts1(b + i);
}
static inline void putsnum(long v) { if (v < 0) { puts1("-"); v = -v; } putnum(v); }
static inline int streq(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }
static inline int starts_with(const char *s, const char *p) { while (*p) if (*s++ != *p++) return 0; return 1; }
static inline long parse_num(const char *s) { long v = 0; while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0'); return v; }
static inline void sys_exit(int code) { for (;;) sys1(NR_exit, code); }
static inline long wait4(long pid, int *status, long options) { return sys4(NR_wait4, pid, status, options, 0); }
static inline void sleep_ms(long ms)
{
    struct timespec32 t = { ms / 1000, (ms % 1000) * 1000000 };
    sys1(NR_nanosleep, &t);
}
static inline long now_ms(void)
{
    struct timespec32 t;
    sys2(NR_clock_gettime, 1, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* TAP. A test program calls tap_init(argv) first, then ok(cond, name)
 * exactly PLAN times, then returns tap_done().
 *   prog            runs alone: "ok N - prog: name" lines, then the
 *                   closing "N passed, M failed"; exits 0 if all passed
 *   prog --plan     (for /bin/utest) exits with the number of tests, runs none
 *   prog --tap=B    (for /bin/utest) numbers its tests from B+1, no closing
 *                   line; exits with the number that failed
 *   prog --quiet    (for the in-kernel leak check) prints nothing; exits
 *                   with the number that failed */
struct tap { int n, failed, base, quiet_end, quiet, plan; const char *prog; };
static inline struct tap *tap_state(void) { static struct tap t; return &t; }
static inline void tap_init(char **argv, int plan)
{
    struct tap *t = tap_state();
    const char *p = argv[0] ? argv[0] : "?";
    for (const char *q = p; *q; q++) if (*q == '/') p = q + 1;
    t->prog = p;
    t->plan = plan;
    if (argv[0] && argv[1] && streq(argv[1], "--plan")) sys_exit(plan);
    if (argv[0] && argv[1] && starts_with(argv[1], "--tap=")) { t->base = parse_num(argv[1] + 6); t->quiet_end = 1; }
    if (argv[0] && argv[1] && streq(argv[1], "--quiet")) t->quiet_end = t->quiet = 1;
}
/* Lines are put together first and written with one write(), so that the
 * output of several processes does not interleave within a line. */
struct line { char b[200]; int n; };
static inline void l_str(struct line *l, const char *s) { while (*s && l->n < (int)sizeof l->b - 1) l->b[l->n++] = *s++; }
static inline void l_num(struct line *l, unsigned long v)
{
    char b[12]; int i = 11; b[i] = 0;
    do { unsigned long q = div10(v); b[--i] = '0' + (v - q * 10); v = q; } while (v);
    l_str(l, b + i);
}
static inline int ok(int cond, const char *name)
{
    struct tap *t = tap_state();
    struct line l; l.n = 0;
    t->n++;
    if (!cond) t->failed++;
    if (t->quiet) return cond;
    if (!cond) l_str(&l, "not ");
    l_str(&l, "ok "); l_num(&l, t->base + t->n); l_str(&l, " - "); l_str(&l, t->prog); l_str(&l, ": ");
    l_str(&l, name); l_str(&l, "\n");
    sys3(NR_write, 1, l.b, l.n);
    return cond;
}
/* A diagnostic line (TAP comment). */
static inline void diag(const char *what, long v)
{
    struct line l; l.n = 0;
    if (tap_state()->quiet) return;
    l_str(&l, "# "); l_str(&l, tap_state()->prog); l_str(&l, ": "); l_str(&l, what); l_str(&l, " ");
    if (v < 0) { l_str(&l, "-"); v = -v; }
    l_num(&l, v); l_str(&l, "\n");
    sys3(NR_write, 1, l.b, l.n);
}
static inline int tap_done(void)
{
    struct tap *t = tap_state();
    if (t->n != t->plan) {
        puts1("# "); puts1(t->prog); puts1(": ran "); putnum(t->n); puts1(" tests, planned "); putnum(t->plan); puts1("\n");
        if (t->n < t->plan) t->failed += t->plan - t->n;
    }
    if (t->quiet_end) return t->failed > 255 ? 255 : t->failed;
    putnum(t->n - (t->failed > t->n ? t->n : t->failed)); puts1(" passed, "); putnum(t->failed); puts1(" failed\n");
    return t->failed ? 1 : 0;
}
#endif
