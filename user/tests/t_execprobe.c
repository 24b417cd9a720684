/* t_execprobe - what t_exec execs: checks what it was given and exits 0
 * when all is as t_exec sent it (not a test program of its own). */
#include "t.h"

int test_main(int argc, char **argv, char **envp)
{
    if (argc == 0 || argv[argc] != 0) return 20;
    if (argc == 1 && argv[0][0] == 0) {
        /* Exec'ed with a NULL argv: Linux gives one empty string. */
        return envp[0] && streq(envp[0], "ONLY=env") && !envp[1] ? 0 : 21;
    }
    if (argc < 2) return 22;
    if (streq(argv[1], "args")) {
        if (argc != 6 || !streq(argv[0], "/bin/t_execprobe")) return 23;
        if (parse_num(argv[2]) != sys0(NR_getpid)) return 24;
        if (!streq(argv[3], "two words") || !streq(argv[4], "") || !streq(argv[5], "last")) return 25;
        if (!envp[0] || !streq(envp[0], "A=1") || !envp[1] || !streq(envp[1], "EMPTY=")) return 26;
        if (!envp[2] || !streq(envp[2], "B=x y") || envp[3]) return 27;
        return 0;
    }
    if (streq(argv[1], "leader")) {
        /* Exec'ed by a thread that was not the group leader: it now has
         * the process's pid as its tid, and the process's parent. */
        if (argc != 4) return 30;
        if (sys0(NR_getpid) != parse_num(argv[2]) || sys0(NR_gettid) != sys0(NR_getpid)) return 31;
        return sys0(NR_getppid) == parse_num(argv[3]) ? 0 : 32;
    }
    if (streq(argv[1], "big")) {
        /* 100,000 'a's as argv[2], 100,000 'b's as envp[0]. */
        if (argc != 3 || !envp[0] || envp[1]) return 33;
        unsigned long i;
        for (i = 0; argv[2][i] == 'a'; i++) ;
        if (i != 100000 || argv[2][i]) return 34;
        for (i = 0; envp[0][i] == 'b'; i++) ;
        return i == 100000 && !envp[0][i] ? 0 : 35;
    }
    if (streq(argv[1], "link")) return streq(argv[0], "/bin/t_execprobe-link") ? 0 : 36;
    if (streq(argv[1], "tls")) return get_tls() == 0 && envp[0] == 0 ? 0 : 28;
    if (streq(argv[1], "sleep")) { sleep_ms(1000); return 0; }
    return 29;
}
