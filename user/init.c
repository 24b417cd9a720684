/* user/init.c - armfork's /init (pid 1) until a fuller one exists: a small
 * command loop on the console that exercises fork, wait4 and exit from a
 * real Linux ARM binary. */
#include "sys.h"

static long atoi1(const char *s, const char **end)
{
    long v = 0;
    while (*s == ' ') s++;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    *end = s;
    return v;
}

static int starts(const char *s, const char *w)
{
    while (*w) if (*s++ != *w++) return 0;
    return *s == 0 || *s == ' ' || *s == '\n';
}

/* fork n children that exit with their index; wait for all; report. */
static void forks(long n)
{
    long ok = 0;
    for (long i = 0; i < n; i++) {
        long pid = sys0(2);
        if (pid == 0) sys1(1, i & 0x7f);
        if (pid < 0) { puts1("fork failed\n"); break; }
    }
    for (;;) {
        int status;
        long pid = sys6(114, -1, (long)&status, 0, 0, 0, 0);
        if (pid <= 0) break;
        ok++;
    }
    puts1("forked and reaped ");
    putnum(ok);
    puts1(" children\n");
}

int main_sp(long *sp)
{
    (void)sp;
    char line[128];
    puts1("armfork /init (pid ");
    putnum(sys0(20));
    puts1("). Commands: fork N, pid, exit [CODE], help\n");
    for (;;) {
        puts1("init> ");
        long n = sys3(3, 0, line, sizeof line - 1);
        if (n <= 0) { puts1("read failed\n"); continue; }
        line[n] = 0;
        const char *rest;
        if (starts(line, "fork")) forks(atoi1(line + 4, &rest));
        else if (starts(line, "pid")) { putnum(sys0(20)); puts1("\n"); }
        else if (starts(line, "exit")) return (int)atoi1(line + 4, &rest);
        else if (starts(line, "help") || line[0] == '\n')
            puts1("fork N: fork N children and reap them; pid: getpid(); exit [CODE]: end init (and the QEMU run)\n");
        else puts1("unknown command (help)\n");
    }
}
