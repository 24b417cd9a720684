/* t_cred - credentials as a Linux ARM program sees them through the raw
 * calls: the real, effective, saved and file-system ids (getres*id,
 * setres*id, setre*id, set*id, setfs*id; the 32-bit calls and the old
 * 16-bit ones), supplementary groups, what changes to the ids do to the
 * capabilities (none left once no id is 0; the effective set follows the
 * effective uid), exec's saved ids and capabilities, and the permission
 * rules kill and prlimit64 apply with them. Each change is made in a
 * child, which reports with a bit per check in its exit status. */
#include "t.h"

enum {
    NR_setuid16 = 23, NR_getuid16 = 24, NR_getgid16 = 47, NR_setreuid16 = 70, NR_getgroups16 = 80,
    NR_setresuid16 = 164, NR_getresuid16 = 165, NR_getgid32 = 200, NR_geteuid32 = 201, NR_getegid32 = 202,
    NR_setreuid32 = 203, NR_setregid32 = 204, NR_getgroups32 = 205, NR_setgroups32 = 206, NR_setresuid32 = 208,
    NR_getresuid32 = 209, NR_setresgid32 = 210, NR_getresgid32 = 211, NR_setgid32 = 214, NR_setfsuid32 = 215,
    NR_setfsgid32 = 216, NR_prlimit64 = 369, NR_pause = 29,
};

static int resuid_is(unsigned r, unsigned e, unsigned s)
{
    unsigned a = 1, b = 1, c = 1;
    return sys3(NR_getresuid32, &a, &b, &c) == 0 && a == r && b == e && c == s;
}

static int resgid_is(unsigned r, unsigned e, unsigned s)
{
    unsigned a = 1, b = 1, c = 1;
    return sys3(NR_getresgid32, &a, &b, &c) == 0 && a == r && b == e && c == s;
}

/* Runs f in a child; its exit status (0: every check held). */
static int in_child(int (*f)(void))
{
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(f());
    int st = -1;
    wait4(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static int gid_moves(void)
{
    int bad = 0;
    bad |= (sys3(NR_setresgid32, 100, 200, 300) == 0 && resgid_is(100, 200, 300)) ? 0 : 1;
    bad |= (sys1(NR_getgid32, 0) == 100 && sys0(NR_getegid32) == 200) ? 0 : 2;
    bad |= (sys2(NR_setregid32, -1, 300) == 0 && resgid_is(100, 300, 300)) ? 0 : 4;
    bad |= sys1(NR_setfsgid32, 7) == 300 ? 0 : 8;        /* returns the old fsgid (the egid) */
    bad |= sys1(NR_setfsgid32, -1) == 7 ? 0 : 16;         /* root may take any; -1 only asks */
    bad |= sys1(NR_setgid32, -1) == -EINVAL ? 0 : 32;
    return bad;
}

static int uid_moves(void)
{
    int bad = 0;
    bad |= (sys3(NR_setresuid32, 1000, 1001, 1002) == 0 && resuid_is(1000, 1001, 1002)) ? 0 : 1;
    /* No id is 0 now: an unprivileged process moves among its own ids only. */
    bad |= (sys3(NR_setresuid32, -1, 1000, -1) == 0 && resuid_is(1000, 1000, 1002)) ? 0 : 2;
    bad |= sys3(NR_setresuid32, 7, -1, -1) == -EPERM ? 0 : 4;
    bad |= (sys1(NR_setuid32, 1002) == 0 && resuid_is(1000, 1002, 1002)) ? 0 : 8;  /* the saved uid */
    bad |= (sys2(NR_setreuid32, 1002, 1000) == 0 && resuid_is(1002, 1000, 1000)) ? 0 : 16;
    bad |= sys1(NR_setuid32, 0) == -EPERM ? 0 : 32;
    bad |= sys1(NR_setfsuid32, 1002) == 1000 ? 0 : 64;    /* old fsuid: the euid */
    bad |= sys1(NR_setfsuid32, 5) == 1002 && sys1(NR_setfsuid32, -1) == 1002 ? 0 : 128;  /* 5 is not ours: refused */
    return bad;
}

static int unprivileged_refusals(void)
{
    int bad = 0;
    unsigned g[2] = { 1, 2 };
    sys3(NR_setresgid32, 100, 100, 100);
    sys3(NR_setresuid32, 1000, 1000, 1000);
    bad |= sys2(NR_setgroups32, 2, g) == -EPERM ? 0 : 1;
    bad |= sys1(NR_setgid32, 555) == -EPERM ? 0 : 2;
    bad |= sys1(NR_setgid32, 100) == 0 ? 0 : 4;
    bad |= sys2(NR_kill, 1, 0) == -EPERM ? 0 : 8;          /* init is root's */
    bad |= sys3(NR_setresgid32, 100, 555, -1) == -EPERM ? 0 : 16;
    return bad;
}

static int groups(void)
{
    int bad = 0;
    unsigned g[3] = { 5, 3, 9 }, out[4] = { 0, 0, 0, 0 };
    unsigned short o16[4] = { 0, 0, 0, 0 };
    bad |= sys2(NR_setgroups32, 3, g) == 0 ? 0 : 1;
    bad |= sys2(NR_getgroups32, 0, 0) == 3 ? 0 : 2;
    bad |= (sys2(NR_getgroups32, 4, out) == 3 && out[0] == 3 && out[1] == 5 && out[2] == 9) ? 0 : 4;  /* sorted */
    bad |= sys2(NR_getgroups32, 2, out) == -EINVAL ? 0 : 8;
    bad |= sys2(NR_getgroups32, -1, out) == -EINVAL ? 0 : 16;
    bad |= (sys2(NR_getgroups16, 4, o16) == 3 && o16[0] == 3 && o16[2] == 9) ? 0 : 32;
    bad |= sys2(NR_setgroups32, 65537, g) == -EINVAL ? 0 : 64;
    bad |= sys2(NR_setgroups32, 3, 0x10) == -EFAULT ? 0 : 128;
    bad |= (sys2(NR_setgroups32, 0, 0) == 0 && sys2(NR_getgroups32, 0, 0) == 0) ? 0 : 256;
    return bad;
}

/* The effective capabilities follow the effective uid; none once no uid is 0. */
static int capabilities(void)
{
    int bad = 0;
    unsigned g[1] = { 4 };
    bad |= sys3(NR_setresuid32, 0, 1000, 0) == 0 ? 0 : 1;
    bad |= sys2(NR_setgroups32, 1, g) == -EPERM ? 0 : 2;   /* euid 1000: no CAP_SETGID in effect */
    bad |= sys3(NR_setresuid32, -1, 0, -1) == 0 ? 0 : 4;   /* back to euid 0 (the real uid) */
    bad |= sys2(NR_setgroups32, 1, g) == 0 ? 0 : 8;        /* and the capabilities with it */
    bad |= sys3(NR_setresuid32, 1000, 1000, 1000) == 0 ? 0 : 16;
    bad |= sys3(NR_setresuid32, -1, 0, -1) == -EPERM ? 0 : 32;   /* for good */
    return bad;
}

static int exec_check(void)
{
    unsigned g[1] = { 4 };
    /* Started with real uid 0, effective 1000: the saved uid is now 1000, and no capability is in effect. */
    return (resuid_is(0, 1000, 1000) ? 0 : 1) | (sys2(NR_setgroups32, 1, g) == -EPERM ? 0 : 2);
}

static int exec_fixup(void)
{
    sys3(NR_setresuid32, 0, 1000, 0);
    const char *av[] = { "/bin/t_cred", "--exec-check", 0 };
    const char *ev[] = { 0 };
    sys3(NR_execve, av[0], av, ev);
    return 99;
}

static int sixteen_bit(void)
{
    int bad = 0;
    unsigned short r = 1, e = 1, s = 1;
    bad |= sys3(NR_setresuid32, 70000, 70000, 70000) == 0 ? 0 : 1;
    bad |= sys0(NR_getuid16) == 65534 ? 0 : 2;            /* the overflow uid */
    bad |= (sys3(NR_getresuid16, &r, &e, &s) == 0 && r == 65534 && e == 65534 && s == 65534) ? 0 : 4;
    bad |= sys0(NR_getuid32) == 70000 ? 0 : 8;
    return bad;
}

static int sixteen_bit_set(void)
{
    int bad = 0;
    bad |= (sys3(NR_setresuid16, 1000, 0xffff, 2000) == 0 && resuid_is(1000, 0, 2000)) ? 0 : 1;  /* 0xffff: unchanged */
    /* (The saved uid stays: the new euid is the old real uid.) */
    bad |= (sys2(NR_setreuid16, 0xffff, 1000) == 0 && resuid_is(1000, 1000, 2000)) ? 0 : 2;
    bad |= sys1(NR_setuid16, 0) == -EPERM ? 0 : 4;
    bad |= sys0(NR_getgid16) == 0 ? 0 : 8;
    return bad;
}

/* prlimit64 on another process: its real, effective and saved uids (and
 * gids) must all be the caller's real ones. */
static volatile int *shared;
static int target_ready(unsigned suid)
{
    sys3(NR_setresgid32, 1000, 1000, 1000);
    sys3(NR_setresuid32, 1000, 1000, suid);
    shared[0]++;
    for (;;) sys0(NR_pause);
    return 0;
}

static int prlimit_on(long pid)
{
    sys3(NR_setresgid32, 1000, 1000, 1000);
    sys3(NR_setresuid32, 1000, 1000, 1000);
    unsigned long long old[2];
    return (int)-sys4(NR_prlimit64, pid, 7, 0, old);
}

static long spawn_target(unsigned suid)
{
    shared[0] = 0;
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(target_ready(suid));
    long end = now_ms() + 2000;
    while (!shared[0] && now_ms() < end) sys0(NR_sched_yield);
    return c;
}

static long prlimit_result(long target)
{
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(prlimit_on(target));
    int st, tst;
    wait4(c, &st, 0);
    sys2(NR_kill, target, 9);
    wait4(target, &tst, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

int test_main(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc > 1 && streq(argv[1], "--exec-check")) return exec_check();
    tap_init(argv, 11);
    shared = (volatile int *)sys6(NR_mmap2, 0, 4096, 3, 0x21, -1, 0);
    ok(sys0(NR_getuid32) == 0 && sys0(NR_geteuid32) == 0 && sys0(NR_getgid32) == 0 && sys0(NR_getegid32) == 0 &&
       resuid_is(0, 0, 0) && resgid_is(0, 0, 0), "root: every uid and gid 0 (getuid32, geteuid32, getresuid32, ...)");
    ok(in_child(gid_moves) == 0, "setresgid, setregid, setfsgid, setgid as root");
    ok(in_child(uid_moves) == 0, "setresuid to 1000/1001/1002, then moves among those ids only");
    ok(in_child(unprivileged_refusals) == 0, "without root: setgroups, a foreign gid and kill(1) are EPERM");
    ok(in_child(groups) == 0, "setgroups32/getgroups32 (sorted, sizes, EINVAL, EFAULT) and getgroups16");
    ok(in_child(capabilities) == 0, "capabilities follow the effective uid, and go once no uid is 0");
    ok(in_child(exec_fixup) == 0, "execve: the saved uid becomes the effective one, and capabilities follow it");
    ok(in_child(sixteen_bit) == 0, "16-bit calls show an id above 65535 as 65534");
    ok(in_child(sixteen_bit_set) == 0, "16-bit setresuid/setreuid: 0xffff leaves an id unchanged");
    long t = spawn_target(1000);
    ok(prlimit_result(t) == 0, "prlimit64 on a process of the same user: allowed");
    t = spawn_target(2000);
    ok(prlimit_result(t) == EPERM, "prlimit64 on one whose saved uid differs: EPERM");
    return tap_done();
}
