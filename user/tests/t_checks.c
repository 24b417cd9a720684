/* t_checks - the argument checks of the older system calls, in Linux 6.1's
 * order: which errno wins when several arguments are wrong, what a range
 * reaching past user space gives before anything is done (access_ok), how
 * much a write or getrandom that runs into a bad page reports, the limits
 * (nr_open, the resource number) and reboot's magic, commands and its
 * meaning inside a pid namespace. Each row of docs/syscalls.md marked
 * "tested" has its check here; every one passes on Linux 6.1 as well. */
#include "t.h"

enum {
    NR_getrandom = 384, NR_prlimit64 = 369, NR_reboot = 88, NR_dup = 41, NR_close = 6,
    NR_ioctl = 54, NR_umask = 60, NR_fstat64 = 197, NR_setsid = 66, NR_setpgid = 57,
    NR_getpgid = 132, NR_getsid = 147,
};
enum { EBADF = 9, ENOTTY = 25, EOPNOTSUPP = 95 };
enum { PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20 };
enum { GRND_NONBLOCK = 1, GRND_RANDOM = 2, GRND_INSECURE = 4 };
enum { RLIMIT_NOFILE = 7, RLIM_NLIMITS = 16 };
enum { SIGHUP = 1, SIGINT = 2 };
#define MAGIC1 0xfee1deadu
#define MAGIC2 672274793u
#define MAGIC2B 369367448u
#define CMD_RESTART 0x01234567u
#define CMD_HALT 0xcdef0123u
#define CMD_CAD_ON 0x89abcdefu
#define CMD_CAD_OFF 0u
#define KERNEL_ADDR 0xc0000000u

struct rlimit32 { unsigned long cur, max; };
struct rlimit64 { unsigned long long cur, max; };

static char *map_pages(int n)
{
    long p = sys6(NR_mmap2, 0, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p < 0 && p > -4096 ? 0 : (char *)p;
}

/* Two pages, the second unmapped again: a buffer that ends at a hole. */
static char *page_before_hole(void)
{
    char *p = map_pages(2);
    if (p) sys2(NR_munmap, p + 4096, 4096);
    return p;
}

static int as_user(int (*f)(void))
{
    long c = sys0(NR_fork);
    if (c == 0) {
        if (sys1(NR_setuid32, 1000) != 0) sys_exit(100);
        sys_exit(f());
    }
    int st = -1;
    wait4(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 200 + WTERMSIG(st);
}

static int reboot_unprivileged(void)
{
    /* EPERM comes before the magic is looked at. */
    return sys4(NR_reboot, 0, 0, CMD_CAD_ON, 0) == -EPERM ? 0 : 1;
}

/* A child that is pid 1 of a new pid namespace and calls reboot(cmd):
 * its parent's wait status. */
static int ns_init_reboot(unsigned cmd, long *cloned)
{
    long c = sys2(NR_clone, CLONE_NEWPID | SIGCHLD, 0);
    if (c == 0) {
        long r = sys4(NR_reboot, MAGIC1, MAGIC2, cmd, 0);
        /* Not reached when the namespace ends. */
        sys_exit(r == 0 ? 50 : 51);
    }
    *cloned = c;
    int st = -1;
    if (c > 0) wait_bounded(c, &st, 5000);
    return st;
}

/* The init of a new pid namespace forks a child that counts in shared
 * memory for ever, then exits: Linux kills and reaps every process of the
 * namespace before its init is gone (zap_pid_ns_processes). 1 if the
 * counter stopped once the init was reaped. */
static int ns_init_exit_kills_the_namespace(void)
{
    volatile unsigned *c = (volatile unsigned *)sys6(NR_mmap2, 0, 4096, PROT_READ | PROT_WRITE, 1 /* MAP_SHARED */ | MAP_ANONYMOUS, -1, 0);
    if ((long)c < 0 && (long)c > -4096) return 0;
    *c = 0;
    long init = sys2(NR_clone, CLONE_NEWPID | SIGCHLD, 0);
    if (init == 0) {
        long child = sys0(NR_fork);
        if (child == 0) count_forever((void *)c);
        while (*c < 1000) sys0(NR_sched_yield); /* the child runs */
        sys_exit(3);
    }
    int st = -1;
    if (init < 0 || wait_bounded(init, &st, 5000) != init || !WIFEXITED(st) || WEXITSTATUS(st) != 3) return 0;
    int stopped = counter_stops(c, 1000, 2000);
    sys2(NR_munmap, (long)c, 4096);
    return stopped;
}

int test_main(int argc, char **argv, char **envp)
{
    (void)argc; (void)envp;
    tap_init(argv, 44);
    char local[64];

    /* write: access_ok before a byte goes out; what reached the console
     * before a bad page is the result. */
    ok(sys3(NR_write, 1, local, KERNEL_ADDR) == -EFAULT, "write: a count reaching past user space is EFAULT before anything is written");
    ok(sys3(NR_write, 1, KERNEL_ADDR, 0) == -EFAULT, "write: a kernel address with count 0 is still EFAULT (access_ok)");
    ok(sys3(NR_write, 99, KERNEL_ADDR, 4) == -EBADF, "write: a closed fd wins over a bad buffer (EBADF)");
    char *p = page_before_hole();
    ok(p != 0, "two pages mapped, the second unmapped again");
    if (p) {
        /* 4096 bytes of TAP comment lines, then the hole. */
        for (int i = 0; i < 4096; i++) p[i] = (i % 64 == 0) ? '#' : (i % 64 == 63) ? '\n' : ' ';
        ok(sys3(NR_write, 1, p, 8192) == 4096, "write running into an unmapped page returns the 4096 bytes before it");
        ok(sys3(NR_write, 1, p + 4096, 16) == -EFAULT, "write starting in the hole: EFAULT");
    } else {
        ok(0, "write running into an unmapped page returns the bytes before it");
        ok(0, "write starting in the hole: EFAULT");
    }

    /* writev: every buffer is checked before anything is written. */
    static const char msg[] = "# writev\n";
    struct { const void *base; unsigned long len; } iov[2] = { { msg, sizeof msg - 1 }, { local, 0x80000000u } };
    ok(sys3(NR_writev, 1, iov, 2) == -EINVAL, "writev: a length negative as ssize_t is EINVAL, nothing written");
    iov[1].len = 0x40000000u;
    ok(sys3(NR_writev, 1, iov, 2) == -EFAULT, "writev: a buffer reaching past user space is EFAULT (access_ok), nothing written");
    iov[1].base = (const void *)KERNEL_ADDR;
    iov[1].len = 0x80000000u;
    ok(sys3(NR_writev, 1, iov, 2) == -EINVAL, "writev: the lengths are checked (EINVAL) before the buffers (EFAULT)");
    if (p) {
        /* The array's first entry (a negative length) just before the hole,
         * its second in it: the whole array is read first (EFAULT). */
        unsigned long *e = (unsigned long *)(p + 4096 - 8);
        e[0] = (unsigned long)msg;
        e[1] = 0x80000000u;
        ok(sys3(NR_writev, 1, e, 2) == -EFAULT, "writev: an iovec array running into a hole is EFAULT, before the lengths are checked");
    } else {
        ok(0, "writev: an iovec array running into a hole is EFAULT, before the lengths are checked");
    }
    ok(sys3(NR_writev, 1, iov, 0) == 0, "writev of no buffers: 0");
    static const char hash[] = "#", nl[] = "\n";
    struct { const void *base; unsigned long len; } many[12];
    for (int i = 0; i < 12; i++) { many[i].base = i == 11 ? nl : hash; many[i].len = 1; }
    ok(sys3(NR_writev, 1, many, 12) == 12, "writev of 12 buffers (more than the 8 copied to the kernel stack): all written");
    ok(sys3(NR_writev, 99, 0, 5000) == -EBADF, "writev: EBADF comes before the iovec count (EINVAL)");

    /* mmap2: a file mapping's fd is looked up first. */
    ok(sys6(NR_mmap2, 0, 0, PROT_READ, MAP_PRIVATE, 99, 0) == -EBADF, "mmap2: a closed fd (EBADF) wins over length 0 (EINVAL)");
    ok(sys6(NR_mmap2, 0, 0, PROT_READ, 0xf, 99, 0) == -EBADF, "mmap2: a closed fd (EBADF) wins over a bad map type (EINVAL)");

    /* read: access_ok even for a count of 0. */
    ok(sys3(NR_read, 0, KERNEL_ADDR, 0) == -EFAULT, "read: a kernel address with count 0 is EFAULT");
    ok(sys3(NR_read, 99, KERNEL_ADDR, 0) == -EBADF, "read: EBADF before EFAULT");

    /* getrandom. */
    unsigned char rnd[1000];
    for (int i = 0; i < 1000; i++) rnd[i] = 0;
    long n = sys3(NR_getrandom, rnd, sizeof rnd, 0);
    int nonzero = 0;
    for (int i = 900; i < 1000; i++) nonzero += rnd[i] != 0;
    ok(n == 1000 && nonzero > 50, "getrandom fills all 1000 bytes asked for");
    ok(sys3(NR_getrandom, rnd, 16, GRND_INSECURE | GRND_RANDOM) == -EINVAL, "getrandom: GRND_INSECURE with GRND_RANDOM is EINVAL");
    ok(sys3(NR_getrandom, rnd, 16, 8) == -EINVAL, "getrandom: an unknown flag is EINVAL");
    ok(sys3(NR_getrandom, KERNEL_ADDR, 16, 0x8) == -EINVAL, "getrandom: flags are checked before the buffer");
    ok(sys3(NR_getrandom, KERNEL_ADDR, 16, GRND_NONBLOCK) == -EFAULT, "getrandom into the kernel half: EFAULT");
    ok(sys3(NR_getrandom, rnd, 0, GRND_INSECURE) == 0, "getrandom of 0 bytes: 0");
    if (p) {
        ok(sys3(NR_getrandom, p + 4096 - 256, 512, 0) == 256, "getrandom running into an unmapped page returns the bytes before it");
        ok(sys3(NR_getrandom, p + 4096, 64, 0) == -EFAULT, "getrandom into the hole: EFAULT");
        sys2(NR_munmap, p, 4096);
    } else {
        ok(0, "getrandom running into an unmapped page returns the bytes before it");
        ok(0, "getrandom into the hole: EFAULT");
    }

    /* setrlimit and prlimit64: Linux reads the new value first, then finds
     * the task, then checks the resource and the value. */
    struct rlimit32 r32 = { 1, 1 };
    ok(sys2(NR_setrlimit, RLIM_NLIMITS + 3, 0) == -EFAULT, "setrlimit: the limit is read (EFAULT) before the resource is checked");
    ok(sys2(NR_setrlimit, RLIM_NLIMITS + 3, &r32) == -EINVAL, "setrlimit of no such resource: EINVAL");
    struct rlimit32 huge = { 2u << 20, 2u << 20 };
    ok(sys2(NR_setrlimit, RLIMIT_NOFILE, &huge) == -EPERM, "setrlimit: RLIMIT_NOFILE above nr_open is EPERM, even for root");
    struct rlimit64 old = { 0, 0 }, inv = { 10, 5 };
    ok(sys4(NR_prlimit64, 999999, RLIM_NLIMITS + 3, 0, 0) == -ESRCH, "prlimit64: no such process (ESRCH) wins over no such resource");
    ok(sys4(NR_prlimit64, 0, RLIM_NLIMITS + 3, KERNEL_ADDR, 0) == -EFAULT, "prlimit64: the new limit is read (EFAULT) before the resource is checked");
    ok(sys4(NR_prlimit64, 0, RLIM_NLIMITS + 3, 0, &old) == -EINVAL, "prlimit64 of no such resource: EINVAL");
    ok(sys4(NR_prlimit64, 0, RLIMIT_NOFILE, &inv, &old) == -EINVAL, "prlimit64: cur above max is EINVAL");

    /* mmap2 ignores prot bits it does not know (mprotect refuses them). */
    long pr = sys6(NR_mmap2, 0, 4096, PROT_READ | PROT_WRITE | 0x10, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ok(pr > 0 || pr < -4096, "mmap2 with an unknown prot bit (0x10) maps the memory: the bit is ignored");
    if (pr > 0 || pr < -4096) {
        ok(sys3(NR_mprotect, pr, 4096, PROT_READ | 0x10) == -EINVAL, "mprotect with that bit: EINVAL");
        sys2(NR_munmap, pr, 4096);
    } else {
        ok(0, "mprotect with that bit: EINVAL");
    }

    /* ioctl on the console (a tty on both kernels). */
    enum { TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414 };
    unsigned short ws[4] = { 9, 9, 9, 9 }, set[4] = { 24, 80, 0, 0 }, back[4] = { 0, 0, 0, 0 };
    long g = sys3(NR_ioctl, 1, TIOCGWINSZ, ws);
    int ws_ok = g == 0 && sys3(NR_ioctl, 1, TIOCSWINSZ, set) == 0 && sys3(NR_ioctl, 1, TIOCGWINSZ, back) == 0
        && back[0] == 24 && back[1] == 80 && sys3(NR_ioctl, 1, TIOCSWINSZ, ws) == 0;
    ok(ws_ok, "ioctl TIOCGWINSZ/TIOCSWINSZ on the console: the window size set is the one read back");
    ok(sys3(NR_ioctl, 1, TIOCGWINSZ, KERNEL_ADDR) == -EFAULT, "ioctl TIOCGWINSZ into the kernel half: EFAULT");
    ok(sys3(NR_ioctl, 1, 0x7401, 0) == -ENOTTY, "ioctl of a command the tty does not know: ENOTTY");
    ok(sys3(NR_ioctl, 99, TIOCGWINSZ, ws) == -EBADF, "ioctl on a closed fd: EBADF");

    /* reboot: EPERM, then the magic, then the command. */
    ok(as_user(reboot_unprivileged) == 0, "reboot without CAP_SYS_BOOT: EPERM, whatever the magic");
    int magic = sys4(NR_reboot, MAGIC1, 12345, CMD_CAD_ON, 0) == -EINVAL
        && sys4(NR_reboot, 0xfee1beefu, MAGIC2, CMD_CAD_ON, 0) == -EINVAL
        && sys4(NR_reboot, MAGIC1, MAGIC2, 0x12345678u, 0) == -EINVAL;
    ok(magic, "reboot: a wrong first or second magic, or an unknown command, is EINVAL");
    ok(sys4(NR_reboot, MAGIC1, MAGIC2B, CMD_CAD_OFF, 0) == 0 && sys4(NR_reboot, MAGIC1, MAGIC2, CMD_CAD_ON, 0) == 0,
       "reboot: CAD_OFF and CAD_ON succeed, with any of the four second magics");
    ok(ns_init_exit_kills_the_namespace(), "a pid namespace's init exiting kills and reaps the namespace's other processes first");
    long cloned = 0;
    int st = ns_init_reboot(CMD_HALT, &cloned);
    if (cloned < 0) diag("clone(CLONE_NEWPID)", cloned);
    ok(cloned > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "reboot(HALT) in a pid namespace's init ends the namespace: its init reported killed by SIGINT");
    st = ns_init_reboot(CMD_RESTART, &cloned);
    ok(cloned > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGHUP, "reboot(RESTART) there: its init reported killed by SIGHUP");

    return tap_done();
}
