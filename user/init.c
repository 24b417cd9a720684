/* user/init.c - armfork's default /init (pid 1): a small command loop on the
 * console that shows Linux's process creation from a real Linux ARM binary:
 * fork trees, threads, vfork, a fork storm against RLIMIT_NPROC, and the
 * benchmarks. `help` lists the commands. */
#include "sys.h"

/* pthread_create's flags: VM, FS, FILES, SIGHAND, THREAD, SYSVSEM, SETTLS,
 * PARENT_SETTID, CHILD_CLEARTID. */
#define PTHREAD_FLAGS 0x3d0f00

enum { RLIMIT_NPROC = 6, CLOCK_MONOTONIC = 1 };
static void spaces(long n) { while (n-- > 0) puts1("  "); }

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

static long wait_any(int *status) { return sys6(NR_wait4, -1, (long)status, 0, 0, 0, 0); }
static long reap_all(void) { int st; long n = 0; while (wait_any(&st) > 0) n++; return n; }

/* fork n children that exit at once; reap them all. */
static void forks(long n)
{
    for (long i = 0; i < n; i++) {
        long pid = sys0(NR_fork);
        if (pid == 0) sys1(NR_exit, i & 0x7f);
        if (pid < 0) { puts1("fork failed: "); putnum(-pid); puts1("\n"); break; }
    }
    puts1("forked and reaped "); putnum(reap_all()); puts1(" children\n");
}

/* A process tree: each node prints itself, then forks its children one by
 * one and waits for each (so the lines come out depth-first, as pstree). */
static void node(long depth, long max, long width)
{
    spaces(depth);
    puts1(depth ? "\\_ pid " : "pid "); putnum(sys0(NR_getpid));
    puts1(" (parent "); putnum(sys0(NR_getppid)); puts1(")\n");
    if (depth == max) return;
    for (long i = 0; i < width; i++) {
        long pid = sys0(NR_fork);
        if (pid == 0) { node(depth + 1, max, width); sys1(NR_exit_group, 0); }
        int st;
        if (pid > 0) sys6(NR_wait4, pid, (long)&st, 0, 0, 0, 0);
    }
}

static void tree(long depth, long width)
{
    if (depth < 1 || depth > 6 || width < 1 || width > 4) { puts1("tree DEPTH WIDTH: depth 1-6, width 1-4\n"); return; }
    long pid = sys0(NR_fork);
    if (pid == 0) { node(0, depth, width); sys1(NR_exit_group, 0); }
    int st;
    sys6(NR_wait4, pid, (long)&st, 0, 0, 0, 0);
}

/* Threads as pthread_create makes them; joined as pthread_join does. */
static volatile long thread_seen[16];

static long clone_thread(void *stack_top, volatile int *ctid, long slot)
{
    register long r0 __asm__("r0") = PTHREAD_FLAGS;
    register long r1 __asm__("r1") = (long)stack_top;
    register long r2 __asm__("r2") = (long)ctid;     /* parent_tidptr */
    register long r3 __asm__("r3") = 0;              /* tls */
    register long r4 __asm__("r4") = (long)ctid;     /* child_tidptr */
    register long r5 __asm__("r5") = slot;
    register long r7 __asm__("r7") = NR_clone;
    /* The thread runs on its own stack: record its tid and getpid in
     * thread_seen[slot] (not for a negative slot: the benchmark's threads
     * only exit), then exit (this thread only). */
    __asm__ volatile(
        "svc #0\n"
        "cmp r0, #0\n"
        "bne 1f\n"
        "cmp r5, #0\n"
        "blt 2f\n"
        "mov r7, #224\n"            /* gettid */
        "svc #0\n"
        "movw r1, #:lower16:thread_seen\n"
        "movt r1, #:upper16:thread_seen\n"
        "str r0, [r1, r5, lsl #3]\n"
        "mov r7, #20\n"             /* getpid */
        "svc #0\n"
        "add r1, r1, #4\n"
        "str r0, [r1, r5, lsl #3]\n"
        "2:\n"
        "mov r0, #0\n"
        "mov r7, #1\n"              /* exit */
        "svc #0\n"
        "1:\n"
        : "+r"(r0) : "r"(r1), "r"(r2), "r"(r3), "r"(r4), "r"(r5), "r"(r7) : "memory", "cc");
    return r0;
}

static void threads(long n)
{
    if (n < 1 || n > 8) { puts1("threads N: 1 to 8\n"); return; }
    char *stacks = (char *)sys6(NR_mmap2, 0, n * 4096, 3, 0x22, -1, 0);
    if ((unsigned long)stacks >= 0xfffff000ul) { puts1("mmap failed\n"); return; }
    static volatile int ctid[8];
    for (long i = 0; i < n; i++) {
        long tid = clone_thread(stacks + (i + 1) * 4096, &ctid[i], i);
        if (tid < 0) { puts1("clone failed\n"); return; }
    }
    for (long i = 0; i < n; i++) {
        while (ctid[i]) sys6(NR_futex, (long)&ctid[i], 0 /* FUTEX_WAIT */, ctid[i], 0, 0, 0);
        puts1("thread "); putnum(i); puts1(": tid "); putnum(thread_seen[2 * i]);
        puts1(", getpid "); putnum(thread_seen[2 * i + 1]); puts1(" (joined through CLONE_CHILD_CLEARTID + futex)\n");
    }
    puts1("all "); putnum(n); puts1(" threads share pid "); putnum(sys0(NR_getpid)); puts1("\n");
}

static void do_vfork(void)
{
    static volatile int written;
    written = 0;
    long pid = sys0(NR_vfork);
    if (pid == 0) {
        written = 1; /* the same memory as the parent's */
        puts1("  child  "); putnum(sys0(NR_getpid)); puts1(": running; my parent is suspended until I exit\n");
        sys1(NR_exit_group, 0);
    }
    int st;
    sys6(NR_wait4, pid, (long)&st, 0, 0, 0, 0);
    puts1("  parent "); putnum(sys0(NR_getpid)); puts1(": resumed after child "); putnum(pid);
    puts1(written ? " exited; I see what it wrote\n" : " exited; its write is missing!\n");
}

/* Fork as uid 1000 with RLIMIT_NPROC = limit until fork says EAGAIN, then
 * reap everything and show that fork works again. */
static void storm(long limit)
{
    if (limit < 1) limit = 32;
    long pid = sys0(NR_fork);
    if (pid == 0) {
        unsigned long rl[2] = { limit, limit };
        sys1(NR_setuid32, 1000);
        sys3(NR_setrlimit, RLIMIT_NPROC, rl, 0);
        long n = 0, err = 0;
        for (;;) {
            long c = sys0(NR_fork);
            if (c == 0) sys1(NR_exit, 0);
            if (c < 0) { err = -c; break; }
            n++;
        }
        puts1("  uid 1000, RLIMIT_NPROC "); putnum(limit); puts1(": "); putnum(n);
        puts1(err == EAGAIN ? " forks, then EAGAIN\n" : " forks, then an unexpected error\n");
        puts1("  reaped "); putnum(reap_all()); puts1(" zombies\n");
        long c = sys0(NR_fork);
        if (c == 0) sys1(NR_exit, 0);
        puts1(c > 0 ? "  fork works again\n" : "  fork still fails!\n");
        reap_all();
        sys1(NR_exit_group, 0);
    }
    int st;
    sys6(NR_wait4, pid, (long)&st, 0, 0, 0, 0);
}

/* Benchmarks timed with CLOCK_MONOTONIC: under make bench's -icount
 * shift=0 a nanosecond is one guest instruction. */
static unsigned long long now_ns(void)
{
    unsigned long ts[2];
    sys3(NR_clock_gettime, CLOCK_MONOTONIC, ts, 0);
    return (unsigned long long)ts[0] * 1000000000ull + ts[1];
}

static void report(const char *name, unsigned long long t0, long iters)
{
    unsigned long long dt = now_ns() - t0;
    unsigned long per = 0;
    while (dt >= (unsigned long long)iters * 1000) { dt -= (unsigned long long)iters * 1000; per += 1000; }
    while (dt >= (unsigned long long)iters) { dt -= iters; per++; }
    puts1(name); puts1(" "); putnum(per); puts1("\n");
}

static void bench(void)
{
    puts1("# ns per iteration (guest instructions under make bench's -icount shift=0)\n");
    unsigned long long t = now_ns();
    for (int i = 0; i < 10000; i++) sys0(NR_getppid);
    report("getppid_round_trip", t, 10000);
    int st;
    t = now_ns();
    for (int i = 0; i < 200; i++) { long p = sys0(NR_fork); if (p == 0) sys1(NR_exit_group, 0); sys6(NR_wait4, p, (long)&st, 0, 0, 0, 0); }
    report("fork_exit_wait4_round_trip", t, 200);
    t = now_ns();
    for (int i = 0; i < 200; i++) { long p = sys0(NR_vfork); if (p == 0) sys1(NR_exit_group, 0); sys6(NR_wait4, p, (long)&st, 0, 0, 0, 0); }
    report("vfork_exit_wait4_round_trip", t, 200);
    char *stack = (char *)sys6(NR_mmap2, 0, 4096, 3, 0x22, -1, 0);
    static volatile int ctid;
    t = now_ns();
    for (int i = 0; i < 200; i++) {
        clone_thread(stack + 4096, &ctid, -1);
        while (ctid) sys6(NR_futex, (long)&ctid, 0, ctid, 0, 0, 0);
    }
    report("thread_clone_exit_futex_join_round_trip", t, 200);
    char *heap = (char *)sys1(NR_brk, 0);
    if (sys1(NR_brk, heap + (1 << 20)) == (long)(heap + (1 << 20))) {
        for (long o = 0; o < (1 << 20); o += 4096) heap[o] = 1;
        t = now_ns();
        for (int i = 0; i < 50; i++) { long p = sys0(NR_fork); if (p == 0) sys1(NR_exit_group, 0); sys6(NR_wait4, p, (long)&st, 0, 0, 0, 0); }
        report("fork_round_trip_1mib_touched", t, 50);
        sys1(NR_brk, heap);
    }
}

static void help(void)
{
    puts1("fork N          fork N children that exit at once, and reap them\n"
          "tree D W        a process tree of depth D and width W, printed as it is made\n"
          "threads N       N threads (pthread_create's clone flags), joined with futex\n"
          "vfork           vfork: the parent sleeps until the child exits\n"
          "storm [LIMIT]   as uid 1000 with RLIMIT_NPROC=LIMIT (32), fork until EAGAIN, recover\n"
          "bench           the benchmarks, timed with clock_gettime\n"
          "pid             getpid()\n"
          "exit [CODE]     end init (the kernel prints the status and QEMU exits with it)\n"
          "poweroff        reboot(LINUX_REBOOT_CMD_POWER_OFF): PSCI SYSTEM_OFF, else semihosting exit 0\n"
          "reboot          reboot(LINUX_REBOOT_CMD_RESTART): PSCI SYSTEM_RESET, else the machine halts\n"
          "Ctrl-O then h   the kernel's SysRq keys (t: task tree, m: memory, s: slabs)\n");
}

int main_sp(long *sp)
{
    (void)sp;
    char line[128];
    puts1("armfork /init (pid ");
    putnum(sys0(NR_getpid));
    puts1("). Commands: fork N, tree D W, threads N, vfork, storm, bench, pid, exit [CODE], poweroff, reboot, help\n");
    for (;;) {
        puts1("init> ");
        long n = sys3(NR_read, 0, line, sizeof line - 1);
        if (n <= 0) { puts1("read failed\n"); continue; }
        line[n] = 0;
        const char *rest;
        if (starts(line, "fork")) forks(atoi1(line + 4, &rest));
        else if (starts(line, "tree")) { long d = atoi1(line + 4, &rest); tree(d, atoi1(rest, &rest)); }
        else if (starts(line, "threads")) threads(atoi1(line + 7, &rest));
        else if (starts(line, "vfork")) do_vfork();
        else if (starts(line, "storm")) storm(atoi1(line + 5, &rest));
        else if (starts(line, "bench")) bench();
        else if (starts(line, "pid")) { putnum(sys0(NR_getpid)); puts1("\n"); }
        else if (starts(line, "exit")) return (int)atoi1(line + 4, &rest);
        else if (starts(line, "poweroff") || starts(line, "reboot")) {
            unsigned cmd = line[0] == 'p' ? 0x4321fedc /* POWER_OFF */ : 0x01234567 /* RESTART */;
            long r = sys4(88 /* reboot */, 0xfee1dead, 672274793, cmd, 0);
            puts1("reboot failed: "); putsnum(r); puts1("\n");
        }
        else if (starts(line, "help") || line[0] == '\n') help();
        else puts1("unknown command (help)\n");
        reap_all(); /* orphans re-parented to init */
    }
}
