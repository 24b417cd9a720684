/* t_exec - execve: argv and envp passed through, the pid kept, the TLS
 * register reset, a vfork parent released at exec, a hard link of the
 * initramfs run as its file; and its errors (ENOENT, EACCES, EFAULT,
 * ENOEXEC, E2BIG) leaving the caller intact. */
#include "t.h"

#define KERNEL_ADDR ((void *)0xC0000000)
#define PROBE "/bin/t_execprobe"

static volatile int survivor = 1234;

static long long stk[2][1024];
static volatile unsigned counter;

/* A process sharing our memory (CLONE_VM) starts a thread that counts in
 * that memory, then execs: the thread must be gone with the old image. */
static int exec_with_thread(void *arg)
{
    (void)arg;
    raw_clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM,
              STACK_TOP(stk[1]), 0, 0, 0, count_forever, (void *)&counter);
    long end = now_ms() + 2000;
    while (counter < 1000 && now_ms() < end) sys0(NR_sched_yield);
    char *av[] = { PROBE, "sleep", 0 };
    sys3(NR_execve, PROBE, av, 0);
    return 100;
}

static void fmt_num(char *b, long v);
static char leader_pid[12], test_pid[12];

/* A thread that is not the leader execs: the main thread counts meanwhile. */
static int exec_from_thread(void *arg)
{
    (void)arg;
    long end = now_ms() + 2000;
    while (counter < 1000 && now_ms() < end) sys0(NR_sched_yield);
    char *av[] = { PROBE, "leader", leader_pid, test_pid, 0 };
    sys3(NR_execve, PROBE, av, 0);
    return 100;
}

static int leader_counts(void *arg)
{
    (void)arg;
    fmt_num(leader_pid, sys0(NR_getpid));
    raw_clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM,
              STACK_TOP(stk[1]), 0, 0, 0, exec_from_thread, 0);
    for (;;) counter++;
    return 0;
}

static void fmt_num(char *b, long v)
{
    char t[12]; int i = 0;
    do { t[i++] = '0' + v % 10; v /= 10; } while (v);
    while (i) *b++ = t[--i];
    *b = 0;
}

int test_main(int argc, char **argv, char **envp)
{
    (void)argc; (void)envp;
    tap_init(argv, 25);
    int st;

    /* argv and envp arrive as given (the probe checks them and its pid). */
    long c = sys0(NR_fork);
    if (c == 0) {
        char pidbuf[12];
        fmt_num(pidbuf, sys0(NR_getpid));
        char *av[] = { PROBE, "args", pidbuf, "two words", "", "last", 0 };
        char *ev[] = { "A=1", "EMPTY=", "B=x y", 0 };
        sys3(NR_execve, PROBE, av, ev);
        sys_exit(100);
    }
    st = -1;
    ok(wait4(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "execve passes argv and envp through and keeps the pid");

    /* /bin/t_execprobe-link is a hard link of /bin/t_execprobe in the
     * initramfs (scripts/initramfs.sh): the archive carries the data once,
     * on the last of the two entries; both names run the program. */
    c = sys0(NR_fork);
    if (c == 0) {
        char *av[] = { PROBE "-link", "link", 0 };
        sys3(NR_execve, PROBE "-link", av, 0);
        sys_exit(100);
    }
    st = -1;
    ok(wait4(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "execve of a hard link of the initramfs runs its file");

    /* A new program starts with the TLS register 0 and a fresh image. */
    c = sys0(NR_fork);
    if (c == 0) {
        sys1(NR_ARM_set_tls, 0x12345678);
        if (get_tls() != 0x12345678) sys_exit(101);
        char *av[] = { PROBE, "tls", 0 };
        sys3(NR_execve, PROBE, av, 0);
        sys_exit(100);
    }
    st = -1;
    ok(wait4(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "after execve the TLS register is 0 (NULL envp is empty)");

    /* An empty argv: the program still gets a sane argv. */
    c = sys0(NR_fork);
    if (c == 0) {
        char *ev[] = { "ONLY=env", 0 };
        sys3(NR_execve, PROBE, 0, ev);
        sys_exit(100);
    }
    st = -1;
    ok(wait4(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "execve with a NULL argv works");

    /* vfork + execve: the parent runs again as soon as the child has exec'ed,
     * while the new program is still running. */
    long t0 = now_ms();
    c = sys0(NR_vfork);
    if (c == 0) {
        char *av[] = { PROBE, "sleep", 0 };
        sys3(NR_execve, PROBE, av, 0);
        sys_exit(100);
    }
    ok(c > 0 && wait4(c, &st, WNOHANG) == 0, "vfork: the parent resumes at the child's execve, the child still running");
    ok(now_ms() - t0 < 1000, "... well before the exec'ed program (sleeping 1 s) ends");
    st = -1;
    ok(wait4(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "... which is then reaped as usual");

    /* mm_release at exec: a vfork child's clear_child_tid word (in the
     * memory it shares with us) is zeroed when it execs. */
    volatile int tidw = 1;
    c = sys0(NR_vfork);
    if (c == 0) {
        sys1(NR_set_tid_address, &tidw);
        char *av2[] = { PROBE, "tls", 0 };
        sys3(NR_execve, PROBE, av2, 0);
        sys_exit(100);
    }
    ok(c > 0 && tidw == 0, "execve by a vfork child zeroes its set_tid_address word in the shared memory");
    wait4(c, &st, 0);

    /* execve in a process with two threads: the other thread ends. */
    counter = 0;
    c = raw_clone(CLONE_VM | SIGCHLD, STACK_TOP(stk[0]), 0, 0, 0, exec_with_thread, 0);
    ok(c > 0 && counter_stops(&counter, 1000, 3000), "execve in a multithreaded process ends its other thread");
    st = -1;
    ok(wait_bounded(c, &st, 3000) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "... and runs the new program");

    /* execve from a thread that is not the leader: the leader goes, the
     * thread takes its pid; the parent sees one process exiting normally. */
    counter = 0;
    fmt_num(test_pid, sys0(NR_getpid));
    c = raw_clone(CLONE_VM | SIGCHLD, STACK_TOP(stk[0]), 0, 0, 0, leader_counts, 0);
    ok(c > 0 && counter_stops(&counter, 1000, 3000), "execve from a non-leader thread ends the leader");
    st = -1;
    ok(wait_bounded(c, &st, 3000) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "... the program runs with the process's pid as pid and tid, and the same parent");
    ok(wait4(-1, &st, WNOHANG) == -ECHILD, "... and nothing else is left to reap");

    /* Errors: the call returns, the caller is intact. */
    char *av[] = { "x", 0 };
    /* (A value only this run of the image holds: a fresh image would have 1234.) */
    survivor = 5678;
    ok(sys3(NR_execve, "/no/such/file", av, 0) == -ENOENT, "execve of a missing file: ENOENT");
    ok(sys3(NR_execve, "", av, 0) == -ENOENT, "execve of an empty path: ENOENT");
    ok(sys3(NR_execve, "/bin", av, 0) == -EACCES, "execve of a directory: EACCES");
    ok(sys3(NR_execve, "/bin/notelf", av, 0) == -ENOEXEC, "execve of an executable that is not ELF: ENOEXEC");
    ok(sys3(NR_execve, KERNEL_ADDR, av, 0) == -EFAULT, "execve with a kernel-space path: EFAULT");
    ok(sys3(NR_execve, PROBE, KERNEL_ADDR, 0) == -EFAULT, "execve with a kernel-space argv: EFAULT");
    char *badav[] = { PROBE, (char *)0x1000, 0 };
    ok(sys3(NR_execve, PROBE, badav, 0) == -EFAULT, "execve with an unmapped argv string: EFAULT");
    char *badev[] = { (char *)KERNEL_ADDR, 0 };
    ok(sys3(NR_execve, PROBE, av, badev) == -EFAULT, "execve with a kernel-space envp string: EFAULT");

    /* E2BIG: one string over MAX_ARG_STRLEN (128 KiB), and 7.5 MiB in all. */
    unsigned long b0 = sys1(NR_brk, 0);
    unsigned long len = 140000;
    int big_ok = sys1(NR_brk, b0 + 200016) == (long)(b0 + 200016);
    long r1 = 0, r2 = 0;
    if (big_ok) {
        char *s = (char *)b0;
        for (unsigned long i = 0; i < len; i++) s[i] = 'a';
        s[len] = 0;
        char *one[] = { PROBE, s, 0 };
        r1 = sys3(NR_execve, PROBE, one, 0);
        s[120000] = 0;
        static char *many[66];
        many[0] = PROBE;
        for (int i = 1; i < 65; i++) many[i] = s;
        many[65] = 0;
        r2 = sys3(NR_execve, PROBE, many, 0);
    }
    /* 200 KB of arguments and environment (two 100,000-byte strings) is
     * well within Linux's limits (128 KiB a string, 2 MB in all). */
    long big_pid = -1;
    if (big_ok) {
        char *s = (char *)b0;
        big_pid = sys0(NR_fork);
        if (big_pid == 0) {
            for (unsigned long i = 0; i < 100000; i++) { s[i] = 'a'; s[100001 + i] = 'b'; }
            s[100000] = 0;
            s[200001] = 0;
            char *av[] = { PROBE, "big", s, 0 };
            char *ev[] = { s + 100001, 0 };
            sys3(NR_execve, PROBE, av, ev);
            sys_exit(100);
        }
    }
    st = -1;
    ok(big_pid > 0 && wait4(big_pid, &st, 0) == big_pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "execve with 200 KB of arguments and environment passes them through");
    ok(big_ok && r1 == -E2BIG, "execve with a 140,000-byte argument: E2BIG");
    ok(big_ok && r2 == -E2BIG, "execve with 64 arguments of 120,000 bytes: E2BIG");
    sys1(NR_brk, b0);
    ok(survivor == 5678 && sys0(NR_getpid) > 0, "after the failed calls the caller's image is intact");
    return tap_done();
}
