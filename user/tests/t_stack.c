/* t_stack - the user stack grows down on demand, as on Linux: a fault
 * below the stack region extends it (expand_stack) while the whole region
 * stays within RLIMIT_STACK (read at fault time) and keeps the stack
 * guard gap (256 pages, 1 MiB) from the mapping below it; past either a
 * touch is SIGSEGV and a system call's store is EFAULT. fork copies the
 * grown stack (copy-on-write). mmap keeps out of the room RLIMIT_STACK
 * reserves (mmap_base, chosen at exec), and with an unlimited stack lays
 * mappings out bottom-up (the legacy layout). Each growth happens in a
 * child, so that this process's own stack stays as exec made it. */
#include "t.h"

enum { PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANON = 0x20 };
enum { RLIMIT_STACK = 3, NR_prlimit64 = 369, AT_EXECFN = 31 };
#define KIB 1024ul
#define MIB (1024ul * 1024)
#define GAP MIB /* stack_guard_gap: 256 pages */
#define RLIM_INFINITY 0xfffffffful

struct rlimit32 { unsigned long cur, max; };

static long mmap(unsigned long addr, unsigned long len, long flags)
{
    return sys6(NR_mmap2, (long)addr, (long)len, PROT_READ | PROT_WRITE, flags | MAP_PRIVATE | MAP_ANON, -1, 0);
}
static int mapped(long p) { return (unsigned long)p < 0xfffff000ul; }
static long set_stack_limit(unsigned long cur)
{
    struct rlimit32 r = { cur, RLIM_INFINITY };
    return sys2(NR_setrlimit, RLIMIT_STACK, &r);
}

/* The top of the stack region: exec puts the strings there (argv, envp
 * and, on Linux, the file name AT_EXECFN points at, just under the top). */
static unsigned long stack_top;
static void find_stack_top(char **argv, char **envp)
{
    unsigned long hi = 0;
    char **p;
    for (p = argv; *p; p++) if ((unsigned long)*p + slen(*p) + 1 > hi) hi = (unsigned long)*p + slen(*p) + 1;
    for (p = envp; *p; p++) if ((unsigned long)*p + slen(*p) + 1 > hi) hi = (unsigned long)*p + slen(*p) + 1;
    unsigned long *aux = (unsigned long *)(p + 1);
    for (; aux[0]; aux += 2)
        if (aux[0] == AT_EXECFN) {
            unsigned long e = aux[1] + slen((char *)aux[1]) + 1 + sizeof(void *);
            if (e > hi) hi = e;
        }
    stack_top = (hi + 4095) & ~4095ul;
}

static unsigned long sp_now(void)
{
    unsigned long sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

/* fork; the child runs f(arg) and exits with its result; the wait status. */
static int in_child(int (*f)(unsigned long), unsigned long arg)
{
    long pid = sys0(NR_fork);
    if (pid == 0) sys1(NR_exit_group, f(arg));
    int st = -1;
    if (pid < 0 || wait4(pid, &st, 0) != pid) return -1;
    return st;
}
static int exited(int st, int code) { return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == code; }
static int segv(int st) { return st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV; }

/* Recursion with a 1 KiB frame (not a tail call: the sum needs each
 * frame back); the lowest frame's address goes to *low. */
static unsigned long low;
static int __attribute__((noinline)) recurse(int n)
{
    volatile char buf[1024];
    buf[0] = (char)n;
    buf[1023] = (char)(n >> 3);
    if ((unsigned long)buf < low) low = (unsigned long)buf;
    if (n == 0) return buf[0];
    return recurse(n - 1) + buf[0] - (char)n + buf[1023] - (char)(n >> 3);
}
static int child_recurses(unsigned long levels)
{
    unsigned long sp0 = sp_now();
    low = sp0;
    if (recurse((int)levels) != 0) return 1;
    return sp0 - low >= levels * KIB ? 0 : 2;
}

/* Touches one byte at `a` (a store), then exits 0. */
static int child_touches(unsigned long a)
{
    *(volatile char *)a = 1;
    return *(volatile char *)a == 1 ? 0 : 1;
}

/* Lowers RLIMIT_STACK to 256 KiB, then touches `a`. */
static int child_limited_touches(unsigned long a)
{
    if (set_stack_limit(256 * KIB) != 0) return 3;
    return child_touches(a);
}

/* Lowers the limit, raises it again, then touches `a`: the limit that
 * counts is the one in force at the fault. */
static int child_relimited_touches(unsigned long a)
{
    if (set_stack_limit(256 * KIB) != 0 || set_stack_limit(8 * MIB) != 0) return 3;
    return child_touches(a);
}

/* A one-page mapping placed with MAP_FIXED so that it ends at `end`
 * (well below the stack), then a touch at `a`. */
static unsigned long fixed_end;
static int child_fixed_then_touches(unsigned long a)
{
    if (mmap(fixed_end - 4096, 4096, MAP_FIXED) != (long)(fixed_end - 4096)) return 3;
    return child_touches(a);
}

/* clock_gettime's store into `a`, below the stack: 0 if it worked,
 * 1 for EFAULT, 2 otherwise. */
static int child_syscall_stores(unsigned long a)
{
    long r = sys2(NR_clock_gettime, 1, a);
    if (r == 0) return *(volatile long *)a >= 0 ? 0 : 2;
    return r == -EFAULT ? 1 : 2;
}

/* Grows the stack by 1 MiB with a pattern, forks: the grandchild sees
 * the pattern and overwrites it; this side's copy stays as it was. */
static int child_forks_grown_stack(unsigned long unused)
{
    (void)unused;
    unsigned long base = (sp_now() & ~4095ul) - 64 * KIB;
    for (unsigned long k = 0; k < 16; k++) *(volatile unsigned long *)(base - k * 64 * KIB) = 0x5a000000 + k;
    long pid = sys0(NR_fork);
    if (pid == 0) {
        for (unsigned long k = 0; k < 16; k++) {
            volatile unsigned long *w = (volatile unsigned long *)(base - k * 64 * KIB);
            if (*w != 0x5a000000 + k) sys1(NR_exit_group, 1);
            *w = 0;
        }
        /* and it can grow its copy further */
        *(volatile char *)(base - 2 * MIB) = 1;
        sys1(NR_exit_group, 0);
    }
    int st = -1;
    if (pid < 0 || wait4(pid, &st, 0) != pid || !exited(st, 0)) return 2;
    for (unsigned long k = 0; k < 16; k++)
        if (*(volatile unsigned long *)(base - k * 64 * KIB) != 0x5a000000 + k) return 3;
    return 0;
}

/* What mmap does in a program exec'ed with RLIMIT_STACK = `limit`
 * (t_stack --layout=LIMIT-IN-MIB runs this): bit 0 set when two fresh
 * mappings lie top-down (the second below the first), bit 1 when both lie
 * at least `limit` + the guard gap below the stack top. */
static int layout_probe(unsigned long limit)
{
    long a = mmap(0, 4096, 0), b = mmap(0, 4096, 0);
    if (!mapped(a) || !mapped(b)) return 100;
    int r = 0;
    if (b < a) r |= 1;
    if (limit != RLIM_INFINITY && (unsigned long)a + 4096 <= stack_top - limit - GAP &&
        (unsigned long)b + 4096 <= stack_top - limit - GAP)
        r |= 2;
    return r;
}

/* A child with RLIMIT_STACK `limit` execs t_stack --layout: its result. */
static int layout_with(unsigned long limit)
{
    long pid = sys0(NR_fork);
    if (pid == 0) {
        if (set_stack_limit(limit) != 0) sys1(NR_exit_group, 101);
        static char arg[32];
        char *q = arg;
        const char *pre = "--layout=";
        while (*pre) *q++ = *pre++;
        unsigned long v = limit == RLIM_INFINITY ? 0 : limit / MIB;
        char t[12]; int n = 0;
        do { t[n++] = '0' + (char)(v - div10(v) * 10); v = div10(v); } while (v);
        while (n) *q++ = t[--n];
        *q = 0;
        const char *av[] = { "/bin/t_stack", arg, 0 };
        const char *ev[] = { 0 };
        sys3(NR_execve, "/bin/t_stack", av, ev);
        sys1(NR_exit_group, 102);
    }
    int st = -1;
    if (pid < 0 || wait4(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

int test_main(int argc, char **argv, char **envp)
{
    (void)argc;
    find_stack_top(argv, envp);
    if (argv[0] && argv[1] && starts_with(argv[1], "--layout=")) {
        unsigned long mib = (unsigned long)parse_num(argv[1] + 9);
        return layout_probe(mib ? mib * MIB : RLIM_INFINITY);
    }
    tap_init(argv, 17);
    unsigned long sp = sp_now() & ~4095ul;
    struct rlimit32 r = { 0, 0 };
    ok(sys2(NR_ugetrlimit, RLIMIT_STACK, &r) == 0 && r.cur == 8 * MIB, "RLIMIT_STACK is 8 MiB");
    ok(stack_top > sp && stack_top - sp < 256 * KIB, "the stack top is just above sp");

    /* Recursion: 1,100 frames of 1 KiB. */
    ok(exited(in_child(child_recurses, 1100), 0), "recursion through 1.1 MiB of stack works");
    ok(exited(in_child(child_recurses, 6000), 0), "and through 6 MiB");

    /* Far below sp, in one step: fine while the region stays within the limit. */
    ok(exited(in_child(child_touches, stack_top - 8 * MIB), 0),
       "a touch exactly 8 MiB below the stack top grows the stack to RLIMIT_STACK (no need to be near sp)");
    ok(segv(in_child(child_touches, stack_top - 8 * MIB - 1)),
       "a touch one byte further (past RLIMIT_STACK) is SIGSEGV");
    ok(segv(in_child(child_touches, stack_top - 64 * MIB)), "a touch 64 MiB below is SIGSEGV");

    /* The limit as it is at the fault. */
    ok(exited(in_child(child_limited_touches, stack_top - 256 * KIB), 0),
       "RLIMIT_STACK lowered to 256 KiB: a touch 256 KiB below the top works");
    ok(segv(in_child(child_limited_touches, stack_top - 256 * KIB - 1)),
       "and one a byte below that is SIGSEGV");
    ok(exited(in_child(child_relimited_touches, stack_top - 4 * MIB), 0),
       "lowered then raised to 8 MiB again: a touch 4 MiB below works");

    /* The guard gap: a mapping 5 MiB below sp leaves the stack room down
     * to 1 MiB above its end, not a page more. */
    fixed_end = sp - 5 * MIB;
    ok(exited(in_child(child_fixed_then_touches, fixed_end + GAP), 0),
       "MAP_FIXED 5 MiB below sp: the stack grows to exactly the guard gap above it");
    ok(segv(in_child(child_fixed_then_touches, fixed_end + GAP - 4096)),
       "one page into the guard gap is SIGSEGV");

    /* The kernel's own stores grow the stack, or fail with EFAULT. */
    ok(exited(in_child(child_syscall_stores, sp - 512 * KIB), 0),
       "clock_gettime storing 512 KiB below sp grows the stack");
    ok(exited(in_child(child_syscall_stores, stack_top - 9 * MIB), 1),
       "storing 9 MiB below the top is EFAULT (no signal)");

    ok(exited(in_child(child_forks_grown_stack, 0), 0),
       "fork copies a grown stack, copy-on-write, and the child's copy grows further");

    /* mmap's layout, chosen at exec from RLIMIT_STACK. */
    ok(layout_with(512 * MIB) == 3,
       "RLIMIT_STACK 512 MiB at exec: mmap places top-down, 512 MiB + the guard gap below the stack");
    ok(layout_with(RLIM_INFINITY) == 0, "RLIMIT_STACK unlimited at exec: mmap places bottom-up");
    return tap_done();
}
