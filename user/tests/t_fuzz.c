/* user/t_fuzz.c - random system calls from user space.
 *
 * Forks CHILDREN children one after another; each makes CALLS system calls
 * with random numbers and random arguments (zero, small numbers, -1, wild
 * values, pointers into its own memory, into the kernel half, unaligned),
 * as trinity does, then exits. A child may die of its own doing (it can
 * munmap its stack): that is fine. The checks are that every child is
 * reaped, that every call came back, and (from the kernel's side, in the
 * ktest that runs this) that the kernel stayed up with every page
 * accounted for.
 *
 * Calls that would block or end the child early on purpose are left out
 * (read from the console, nanosleep, clock_nanosleep, pause, rt_sigsuspend,
 * fork/vfork/clone/execve, kill, tkill, tgkill, exit, reboot); futex is only
 * ever an op that does not sleep (FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE,
 * FUTEX_WAKE_BITSET, maybe private, now and then with FUTEX_CLOCK_REALTIME),
 * prlimit64 and rt_sigqueueinfo only on the caller, rt_sigtimedwait only with
 * a zero timeout;
 * brk and mmap lengths are kept small so that one call cannot spend
 * seconds zeroing memory. Unknown numbers come from above Linux's table (1000 and up).
 * The same binary runs on Linux (make test-linux). */
#include "../sys.h"

enum { CHILDREN = 150, CALLS = 2000 };


static u32 seed;
static u32 rnd(void) { seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5; return seed; }

/* The system calls both kernels have, minus the ones left out above. */
static const short calls[] = {
    4 /* write */, 6 /* close */, 20 /* getpid */, 41 /* dup */, 45 /* brk */,
    54 /* ioctl */, 60 /* umask */, 64 /* getppid */, 75 /* setrlimit */, 91 /* munmap */,
    114 /* wait4: no children here, so never blocks */, 122 /* uname */, 146 /* writev */,
    158 /* sched_yield */, 191 /* ugetrlimit */, 192 /* mmap2 */, 199 /* getuid32 */,
    213 /* setuid32 */, 224 /* gettid */, 240 /* futex */, 256 /* set_tid_address */,
    263 /* clock_gettime */, 369 /* prlimit64 */, 125 /* mprotect */, 220 /* madvise */,
    197 /* fstat64 */, 397 /* statx */, 384 /* getrandom */,
    /* Credentials, 16- and 32-bit (a child may drop its privileges: fine). */
    23, 24, 46, 47, 49, 50, 70, 71, 80, 81, 138, 139, 164, 165, 170, 171,
    200, 201, 202, 203, 204, 205, 206, 208, 209, 210, 211, 214, 215, 216,
    /* Time: clocks, itimers (a SIGALRM may end the child: fine), gettimeofday. */
    78 /* gettimeofday */, 104 /* setitimer */, 105 /* getitimer */, 264 /* clock_getres */,
    403 /* clock_gettime64 */, 406 /* clock_getres_time64 */,
    /* Signals: the ones that neither wait nor reach another process. */
    174 /* rt_sigaction */, 175 /* rt_sigprocmask */, 176 /* rt_sigpending */, 177 /* rt_sigtimedwait */,
    178 /* rt_sigqueueinfo */, 186 /* sigaltstack */, 363 /* rt_tgsigqueueinfo */, 421 /* rt_sigtimedwait_time64 */,
    280 /* waitid: no children here */, 0 /* restart_syscall */,
};

static char buf[8192] __attribute__((aligned(4096)));
/* A zero timeout (16 bytes: also a zero struct __kernel_timespec). */
static const long zero_time[4];
extern char __executable_start[], _end[];
static u32 stack_low, count_page;

/* Would [a, a + len) take away the program itself or its stack? Then the
 * call goes to a scratch page instead: a fuzzer that unmaps its own code
 * stops fuzzing (trinity keeps such ranges out of reach too). */
static int hits_self(u32 a, u32 len)
{
    u32 end = a + len < a ? 0xffffffffu : a + len;
    u32 lo = (u32)__executable_start & ~0xfffu, hi = ((u32)_end + 0xfff) & ~0xfffu;
    return (a < hi && end > lo) || end > stack_low || (a < count_page + 4096 && end > count_page);
}

static u32 arg(void)
{
    switch (rnd() % 10) {
    case 0: return 0;
    case 1: return rnd() % 16;
    case 2: return 0xffffffff;
    case 3: return rnd();
    case 4: return (u32)buf + (rnd() % sizeof buf);          /* our own memory */
    case 5: return 0xc0000000u + (rnd() & 0x3fffffff);      /* the kernel half */
    case 6: return (u32)buf + 4096 - (rnd() % 8);           /* near a page end */
    case 7: return rnd() & ~0xfffu;                         /* a page anywhere */
    case 8: return (u32)&arg;                               /* our code */
    default: return 1u << (rnd() % 32);
    }
}

static void fuzz_child(volatile u32 *count)
{
    for (int i = 0; i < CALLS; i++) {
        u32 nr = rnd() % 8 ? (u32)calls[rnd() % (sizeof calls / sizeof calls[0])] : 1000 + rnd() % 0xe0000;
        u32 a[6];
        for (int k = 0; k < 6; k++) a[k] = arg();
        if (nr == 240) {                                         /* futex ops that never sleep */
            static const u32 ops[] = { 1 /* WAKE */, 3 /* REQUEUE */, 4 /* CMP_REQUEUE */, 10 /* WAKE_BITSET */ };
            a[1] = ops[rnd() % 4] | (a[1] & 128) | (rnd() % 16 ? 0 : 256);
        }
        if (nr == 369) a[0] = 0;                                 /* prlimit64 on ourselves */
        /* No CPU-time limit: Linux would SIGKILL the child for it (fine, but it stops fuzzing). */
        if (nr == 75 && a[0] == 0) a[0] = 7;
        if (nr == 369 && a[1] == 0) a[1] = 7;
        if (nr == 45) a[0] = (u32)sys1(NR_brk, 0) + (rnd() % 0x40000) - 0x20000;
        if (nr == 192) a[1] &= 0xffff;                           /* mmap2: at most 64 KiB */
        if ((nr == 91 || nr == 125 || nr == 220 || (nr == 192 && (a[3] & 0x10))) && hits_self(a[0], a[1])) {
            a[0] = 0x20000000u + (rnd() % 256) * 4096;           /* munmap, mprotect, madvise, MAP_FIXED elsewhere */
            a[1] &= 0xffff;
        }
        if (nr == 384) a[1] &= 0xff;                             /* getrandom: a few bytes */
        if (nr == 174) a[1] = 0;                                 /* rt_sigaction: only asks (a wild handler could exit(n)) */
        /* sigqueue: to ourselves only, and a signal that does not end us */
        static const u32 harmless[] = { 0, 17 /* SIGCHLD */, 23 /* SIGURG */, 28 /* SIGWINCH */, 99 };
        if (nr == 178) { a[0] = sys0(NR_getpid); a[1] = harmless[rnd() % 5]; }
        if (nr == 363) { a[0] = sys0(NR_getpid); a[1] = sys0(NR_gettid); a[2] = harmless[rnd() % 5]; }
        if (nr == 104) a[1] = 0;                                 /* setitimer: only disarms (a SIGALRM ends the child) */
        if (nr == 177 || nr == 421) a[2] = (u32)zero_time;       /* sigtimedwait: never waits */
        if (nr == 206 || nr == 81) a[0] &= 0xff;                 /* setgroups: a few groups */
        if (nr == 4 || nr == 146) a[0] = 3 + rnd() % 60;        /* write(v): no console spam */
        if (nr == 41) a[0] = 3 + rnd() % 60;                     /* dup: no second console fd either */
        sys6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        count[0]++;
    }
}

int main_sp(long *sp)
{
    char **argv = (char **)(sp + 1);
    tap_init(argv, 5);
    /* The seed: from AT_RANDOM's bytes would differ per run; a fixed one
     * makes a failure reproducible (it is printed). */
    stack_low = ((u32)sp & ~0xfffffu) - 0x100000u;
    seed = 0x2545f491u;
    diag("seed", (long)seed);
    volatile u32 *count = (volatile u32 *)sys6(NR_mmap2, 0, 4096, 3, 0x21 /* MAP_SHARED|MAP_ANON */, -1, 0);
    ok((unsigned long)count < 0xfffff000ul, "a shared page to count the calls in");
    count_page = (u32)count;
    int reaped = 0, signalled = 0, bad_exit = 0, first_sig = 0;
    for (int c = 0; c < CHILDREN; c++) {
        rnd();
        long pid = sys0(NR_fork);
        if (pid == 0) {
            fuzz_child(count);
            sys1(NR_exit, 0);
        }
        if (pid < 0) break;
        int status = 0;
        if (sys6(NR_wait4, pid, (long)&status, 0, 0, 0, 0) == pid) {
            reaped++;
            if (status & 0x7f) {
                signalled++;
                if (!first_sig) first_sig = status & 0x7f;
            }
            else if (status != 0) bad_exit++;
        }
    }
    ok(reaped == CHILDREN, "every fuzzing child was forked and reaped");
    ok(bad_exit == 0, "no child exited with an unexpected status");
    diag("children killed by a signal of their own doing", signalled);
    diag("the first of them by signal", first_sig);
    diag("system calls made", (long)count[0]);
    ok(count[0] >= (u32)(CHILDREN - signalled) * CALLS, "every call of every surviving child returned");
    ok(count[0] >= 100000, "hundreds of thousands of random system calls");
    return tap_done();
}
