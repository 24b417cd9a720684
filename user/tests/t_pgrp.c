/* t_pgrp - process groups and sessions as a Linux program sees them:
 * setsid, setpgid's rules, getpgid/getpgrp/getsid, children inheriting
 * their parent's group, and kill(0) / kill(-pgrp) reaching a whole group
 * and nothing else. Runs in a child that first makes its own session, so
 * it does not depend on what pid 1's group is. */
#include "t.h"

enum { NR_setpgid = 57, NR_getpgrp = 65, NR_setsid = 66, NR_getpgid = 132, NR_getsid = 147 };

static int sleeper(void)
{
    /* Sleeps until killed (bounded: 5 s). */
    long end = now_ms() + 5000;
    while (now_ms() < end) sleep_ms(10);
    return 0;
}

static long spawn_sleeper(void)
{
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(sleeper());
    return c;
}

static int session_side(void)
{
    int bad = 0;
    long me = sys0(NR_getpid);
    long sid = sys0(NR_setsid);
    if (sid != me) bad |= 1;
    if (sys0(NR_getpgrp) != me || sys1(NR_getpgid, 0) != me || sys1(NR_getsid, 0) != me) bad |= 2;
    if (sys0(NR_setsid) != -EPERM) bad |= 4;                 /* a group leader may not */
    long a = spawn_sleeper(), b = spawn_sleeper(), c = spawn_sleeper();
    /* Children start in our group and session. */
    if (sys1(NR_getpgid, a) != me || sys1(NR_getsid, b) != me) bad |= 8;
    /* b and c into a new group named after b; a stays. */
    if (sys2(NR_setpgid, b, 0) != 0 || sys2(NR_setpgid, c, b) != 0) bad |= 16;
    if (sys1(NR_getpgid, b) != b || sys1(NR_getpgid, c) != b || sys1(NR_getpgid, a) != me) bad |= 32;
    if (sys2(NR_setpgid, a, 999999) != -EPERM) bad |= 64;    /* no such group in our session */
    if (sys2(NR_setpgid, 0, -1) != -EINVAL) bad |= 128;
    if (sys2(NR_setpgid, 1, 0) != -ESRCH) bad |= 256;        /* not us, not our child */
    if (sys2(NR_setpgid, 0, 0) != -EPERM) bad |= 512;        /* a session leader stays */
    /* kill(-b, SIGKILL) ends b and c, not a. */
    if (sys2(NR_kill, -b, SIGKILL) != 0) bad |= 1024;
    int st;
    if (wait4(b, &st, 0) != b || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) bad |= 2048;
    if (wait4(c, &st, 0) != c || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) bad |= 4096;
    if (wait4(a, &st, WNOHANG) != 0) bad |= 8192;            /* a is still there */
    if (sys2(NR_kill, -b, 0) != -ESRCH) bad |= 16384;        /* the group is gone */
    /* A group outlives its leader: with b2 gone, kill(-b2) still reaches c2. */
    long b2 = spawn_sleeper(), c2 = spawn_sleeper();
    if (sys2(NR_setpgid, b2, 0) != 0 || sys2(NR_setpgid, c2, b2) != 0) bad |= 1 << 17;
    sys2(NR_kill, b2, SIGKILL);
    if (wait4(b2, &st, 0) != b2) bad |= 1 << 18;
    if (sys2(NR_kill, -b2, SIGKILL) != 0) bad |= 1 << 19;
    if (wait4(c2, &st, 0) != c2 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) bad |= 1 << 20;
    /* kill(0, SIGTERM) from a child that made its own group: just that group. */
    long d = sys0(NR_fork);
    if (d == 0) {
        sys2(NR_setpgid, 0, 0);
        long e = spawn_sleeper();
        (void)e;
        sys2(NR_kill, 0, SIGTERM);                            /* ends us and e */
        sys_exit(99);
    }
    if (wait4(d, &st, 0) != d || !WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM) bad |= 32768;
    if (wait4(a, &st, WNOHANG) != 0) bad |= 65536;
    sys2(NR_kill, a, SIGKILL);
    wait4(a, &st, 0);
    return bad;
}

int test_main(int argc, char **argv, char **envp)
{
    (void)argc; (void)envp;
    tap_init(argv, 3);
    long c = sys0(NR_fork);
    if (c == 0) sys_exit(session_side() ? 1 : 0);
    int st = -1;
    ok(wait4(c, &st, 0) == c && WIFEXITED(st), "the session-leader child ran to the end");
    ok(WEXITSTATUS(st) == 0, "setsid, setpgid's rules, getpgid/getsid, inherited groups, kill(-pgrp) and kill(0) reach exactly the group");
    /* Orphans of the test (grandchildren killed by the group kill) are reaped by pid 1. */
    ok(sys1(NR_getpgid, 999999) == -ESRCH, "getpgid of no such process: ESRCH");
    return tap_done();
}
