/* utest - the user-space test runner, meant to run as pid 1
 * (init=/bin/utest): forks and execs each test program in turn, first with
 * --plan (its exit status is its number of tests), then with --tap=BASE so
 * that its TAP lines continue the numbering; its exit status is then the
 * number that failed. Reaps everything, orphans included, prints the
 * aggregate "N passed, M failed" and exits 0 only if all passed. */
#include "t.h"

static const char *const programs[] = {
    "/bin/t_basic", "/bin/t_fork", "/bin/t_clone", "/bin/t_wait", "/bin/t_exec", "/bin/t_rlimit", "/bin/t_pgrp",
    "/bin/t_vfp", "/bin/t_mmap", "/bin/t_stack", "/bin/t_futex", "/bin/t_fuzz", "/bin/t_signal", "/bin/t_siginfo",
    "/bin/t_time", "/bin/t_cred", "/bin/t_checks", "/bin/t_glibc",
};

static long orphans;

/* Runs `path arg`, returns its wait status (or -1 if it could not start). */
static int run(const char *path, const char *arg, char **envp)
{
    long c = sys0(NR_fork);
    if (c == 0) {
        const char *av[] = { path, arg, 0 };
        long e = sys3(NR_execve, path, av, envp);
        puts1("# utest: execve failed: "); putsnum(e); puts1("\n");
        sys_exit(255);
    }
    if (c < 0) return -1;
    int st;
    for (;;) {
        long r = wait4(-1, &st, 0);
        if (r == c) return st;
        if (r < 0) return -1;
        orphans++; /* someone else's child, reparented to us */
    }
}

int test_main(int argc, char **argv, char **envp)
{
    (void)argc; (void)argv;
    long pass = 0, fail = 0;
    puts1("TAP version 13\n# utest: pid "); putnum(sys0(NR_getpid)); puts1("\n");
    for (unsigned i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        const char *p = programs[i];
        int plan = run(p, "--plan", envp);
        if (plan < 0 || !WIFEXITED(plan) || WEXITSTATUS(plan) == 0 || WEXITSTATUS(plan) == 255) {
            puts1("not ok "); putnum(pass + fail + 1); puts1(" - "); puts1(p); puts1(": cannot run\n");
            fail++;
            continue;
        }
        plan = WEXITSTATUS(plan);
        char base[24] = "--tap=";
        char *q = base + 6;
        long v = pass + fail;
        char t[12]; int n = 0;
        do { t[n++] = '0' + v % 10; v /= 10; } while (v);
        while (n) *q++ = t[--n];
        *q = 0;
        long t0 = now_ms();
        int st = run(p, base, envp);
        if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) <= plan) {
            fail += WEXITSTATUS(st);
            pass += plan - WEXITSTATUS(st);
        } else {
            puts1("# utest: "); puts1(p); puts1(" ended with wait status "); putsnum(st);
            puts1(": all its tests count as failed\n");
            fail += plan;
        }
        puts1("# utest: "); puts1(p); puts1(" took "); putnum(now_ms() - t0); puts1(" ms\n");
    }
    /* Orphans still running (each test bounds them): reap until none is left. */
    int st;
    while (wait4(-1, &st, 0) > 0) orphans++;
    puts1("# utest: reaped "); putnum(orphans); puts1(" orphans\n");
    puts1("1.."); putnum(pass + fail); puts1("\n");
    putnum(pass); puts1(" passed, "); putnum(fail); puts1(" failed\n");
    return fail ? 1 : 0;
}
