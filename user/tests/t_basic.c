/* t_basic - identity, uname, clocks, nanosleep, brk, and EFAULT on bad
 * pointers, as a Linux ARM program sees them. */
#include "t.h"

#define KERNEL_ADDR ((void *)0xC0000000)   /* kernel space under any Linux/ARM split */
#define LOW_ADDR ((void *)0x1000)          /* never mapped in a static executable */

int test_main(int argc, char **argv, char **envp)
{
    (void)argc; (void)envp;
    tap_init(argv, 24);
    long pid = sys0(NR_getpid);
    ok(pid > 0, "getpid is positive");
    ok(sys0(NR_gettid) == pid, "a single-threaded process: gettid == getpid");
    ok(sys0(NR_getppid) >= 0 && sys0(NR_getppid) != pid, "getppid is another process (0 for pid 1)");
    ok(sys0(NR_getpid) == pid, "getpid is stable");

    static char uts[6 * 65];
    ok(sys1(NR_uname, uts) == 0, "uname succeeds");
    ok(streq(uts, "Linux"), "uname sysname is Linux");
    ok(starts_with(uts + 4 * 65, "armv"), "uname machine starts with armv");

    struct timespec32 a, b, real;
    ok(sys2(NR_clock_gettime, 1, &a) == 0 && a.tv_nsec >= 0 && a.tv_nsec < 1000000000,
       "clock_gettime(CLOCK_MONOTONIC) gives a normalized time");
    ok(sys2(NR_clock_gettime, 0, &real) == 0 && real.tv_sec > 1600000000, "CLOCK_REALTIME is after 2020");
    ok(sys2(NR_clock_gettime, 12345, &real) == -EINVAL, "clock_gettime of a bad clock: EINVAL");
    struct timespec32 d = { 0, 20000000 };
    long r = sys1(NR_nanosleep, &d);
    sys2(NR_clock_gettime, 1, &b);
    long el = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
    ok(r == 0 && el >= 20000000, "nanosleep(20 ms) returns 0 after at least 20 ms");
    struct timespec32 bad = { 0, 1000000000 };
    ok(sys1(NR_nanosleep, &bad) == -EINVAL, "nanosleep with tv_nsec >= 1e9: EINVAL");
    struct timespec32 neg = { -1, 0 };
    ok(sys1(NR_nanosleep, &neg) == -EINVAL, "nanosleep with a negative tv_sec: EINVAL");

    /* A process asleep in nanosleep(10 s) is woken by SIGKILL and dies at once. */
    long s = sys0(NR_fork);
    if (s == 0) {
        struct timespec32 ten = { 10, 0 };
        sys1(NR_nanosleep, &ten);
        sys_exit(1);
    }
    struct timespec32 k0, k1, short_nap = { 0, 30000000 };
    sys1(NR_nanosleep, &short_nap);             /* let it fall asleep */
    sys2(NR_clock_gettime, 1, &k0);
    long kr = sys2(NR_kill, s, 9);
    int kst = 0;
    long kw = wait4(s, &kst, 0);
    sys2(NR_clock_gettime, 1, &k1);
    long kel = (k1.tv_sec - k0.tv_sec) * 1000L + (k1.tv_nsec - k0.tv_nsec) / 1000000L;
    ok(kr == 0 && kw == s && (kst & 0x7f) == 9 && kel < 1000,
       "a process asleep in nanosleep(10 s) dies at once of SIGKILL");

    /* brk: the break starts after the image; growing gives zeroed, writable memory. */
    unsigned long b0 = sys1(NR_brk, 0);
    unsigned long b1 = sys1(NR_brk, b0 + 3 * 4096 + 100);
    int zero = 1;
    if (b1 == b0 + 3 * 4096 + 100) {
        volatile unsigned char *m = (unsigned char *)b0;
        for (unsigned long i = 0; i < 3 * 4096 + 100; i++) { if (m[i]) zero = 0; m[i] = (unsigned char)i; }
    }
    ok(b0 != 0 && b1 == b0 + 3 * 4096 + 100 && zero, "brk grows the heap with zeroed memory");
    ok(sys1(NR_brk, b0) == (long)b0, "brk shrinks back");

    /* EFAULT: kernel addresses and unmapped low addresses. */
    ok(sys3(NR_write, 1, KERNEL_ADDR, 4) == -EFAULT, "write from a kernel address: EFAULT");
    ok(sys3(NR_write, 1, LOW_ADDR, 4) == -EFAULT, "write from an unmapped address: EFAULT");
    ok(sys3(NR_read, 0, KERNEL_ADDR, 4) == -EFAULT, "read into a kernel address: EFAULT");
    ok(sys1(NR_uname, KERNEL_ADDR) == -EFAULT && sys1(NR_uname, LOW_ADDR) == -EFAULT,
       "uname into kernel and unmapped addresses: EFAULT");
    ok(sys2(NR_clock_gettime, 1, KERNEL_ADDR) == -EFAULT && sys2(NR_clock_gettime, 1, LOW_ADDR) == -EFAULT,
       "clock_gettime into kernel and unmapped addresses: EFAULT");
    ok(sys1(NR_nanosleep, KERNEL_ADDR) == -EFAULT, "nanosleep from a kernel address: EFAULT");

    /* wait4's status pointer: the child is reaped, the call says EFAULT. */
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(3);
    ok(wait4(c, KERNEL_ADDR, 0) == -EFAULT, "wait4 with a kernel-space status pointer: EFAULT");
    int st;
    ok(wait4(c, &st, 0) == -ECHILD, "... and the child was reaped all the same");
    return tap_done();
}
