/* t_rlimit - a fork storm bounded by RLIMIT_NPROC: as a non-root user with
 * a low limit, fork until EAGAIN; reap everything; the same number of
 * forks succeeds again (nothing leaked), and root is not bound by it. */
#include "t.h"

enum { RLIMIT_NPROC = 6, LIMIT = 12 };
struct rlimit32 { unsigned long cur, max; };

/* Forks children that exit at once (zombies still count) until fork
 * fails; returns how many succeeded, *err the failure; reaps them all. */
static int storm(long *err, int *reaped)
{
    int n = 0;
    *err = 0;
    for (int i = 0; i < 4 * LIMIT; i++) {
        long c = sys0(NR_fork);
        if (c == 0) sys_exit(0);
        if (c < 0) { *err = c; break; }
        n++;
    }
    int st;
    *reaped = 0;
    while (wait4(-1, &st, 0) > 0) (*reaped)++;
    return n;
}

static int user_side(void)
{
    int bad = 0;
    if (sys1(NR_setuid32, 1000) != 0) return 1;
    struct rlimit32 r = { LIMIT, LIMIT };
    if (sys2(NR_setrlimit, RLIMIT_NPROC, &r) != 0) return 2;
    struct rlimit32 g = { 0, 0 };
    if (sys2(NR_ugetrlimit, RLIMIT_NPROC, &g) != 0 || g.cur != LIMIT || g.max != LIMIT) return 3;
    r.max = LIMIT + 1;
    if (sys2(NR_setrlimit, RLIMIT_NPROC, &r) != -EPERM) bad |= 4; /* cannot raise max unprivileged */
    long e1, e2;
    int r1, r2;
    int n1 = storm(&e1, &r1);
    int n2 = storm(&e2, &r2);
    diag("forks before EAGAIN", n1);
    if (e1 != -EAGAIN || e2 != -EAGAIN) bad |= 8;
    if (n1 < 1 || n1 > LIMIT) bad |= 16; /* Linux versions differ by one at the limit */
    if (n1 != n2 || r1 != n1 || r2 != n2) bad |= 32;
    return bad;
}

int test_main(int argc, char **argv, char **envp)
{
    (void)argc; (void)envp;
    tap_init(argv, 7);
    int st = -1;
    ok(sys0(NR_getuid32) == 0, "the test starts as root (uid 0)");
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(user_side());
    ok(wait4(c, &st, 0) == c && WIFEXITED(st), "the non-root child ran to the end");
    if (WEXITSTATUS(st)) diag("user side failure bits", WEXITSTATUS(st));
    ok(WEXITSTATUS(st) == 0, "uid 1000 with RLIMIT_NPROC 12: fork fails with EAGAIN near 12 processes, twice the same count, all reaped");
    /* Root is exempt: the same limit does not stop it. */
    c = sys0(NR_fork);
    if (c == 0) {
        struct rlimit32 r = { 2, 2 };
        sys2(NR_setrlimit, RLIMIT_NPROC, &r);
        long e; int reaped;
        int n = storm(&e, &reaped);
        sys_exit(n == 4 * LIMIT && e == 0 && reaped == n ? 0 : 1);
    }
    ok(wait4(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "root is not bound by RLIMIT_NPROC");

    /* prlimit64 on another process: set a child's RLIMIT_NOFILE, read it back. */
    enum { NR_prlimit64 = 369, RLIMIT_NOFILE = 7 };
    struct { unsigned long long cur, max; } nl = { 64, 64 }, ol = { 0, 0 };
    c = sys0(NR_fork);
    if (c == 0) { sleep_ms(300); sys_exit(0); }
    long r1 = sys4(NR_prlimit64, c, RLIMIT_NOFILE, &nl, 0);
    long r2 = sys4(NR_prlimit64, c, RLIMIT_NOFILE, 0, &ol);
    ok(r1 == 0 && r2 == 0 && ol.cur == 64 && ol.max == 64, "prlimit64 sets and reads another process's limit");
    ok(sys4(NR_prlimit64, 999999, RLIMIT_NOFILE, 0, &ol) == -ESRCH, "prlimit64 of no such process: ESRCH");
    wait4(c, &st, 0);
    /* A non-root process may not change root's limits. */
    long parent = sys0(NR_getpid);
    c = sys0(NR_fork);
    if (c == 0) {
        sys1(NR_setuid32, 1000);
        sys_exit(sys4(NR_prlimit64, parent, RLIMIT_NOFILE, &nl, 0) == -EPERM ? 0 : 1);
    }
    ok(wait4(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "prlimit64 on a process of another user: EPERM");
    return tap_done();
}
