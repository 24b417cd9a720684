/* user/t_mmap.c - mmap2 / munmap / writev as a Linux program sees them.
 * TAP on the console; exits with the number of failed checks (0: all passed).
 * Only Linux's documented behaviour is checked, so the same binary passes
 * on real Linux (make test-linux). */
#include "../sys.h"

enum { PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANON = 0x20 };
enum { EBADF = 9, ENODEV = 19 };


static long mmap(long addr, long len, long prot, long flags, long fd)
{
    return sys6(NR_mmap2, addr, len, prot, flags, fd, 0);
}

/* A successful mmap: not an -errno (addresses may be above 2 GiB: unsigned). */
static int mapped(volatile void *p) { return (unsigned long)p < 0xfffff000ul; }

/* fork; the child runs f() and exits with its result; returns the wait status. */
static int in_child(int (*f)(volatile int *), volatile int *arg)
{
    long pid = sys0(NR_fork);
    if (pid == 0) sys1(NR_exit, f(arg));
    int status = -1;
    sys6(NR_wait4, pid, (long)&status, 0, 0, 0, 0);
    return status;
}

static int child_writes(volatile int *p) { p[0] = 0x1234; p[1024] = 0x5678; return p[0] == 0x1234 ? 7 : 1; }
static int child_reads(volatile int *p) { return p[0]; }
static int child_touches(volatile int *p) { return p[0] ? 1 : 2; }

int main_sp(long *sp)
{
    char **argv = (char **)(sp + 1);
    long rw = PROT_READ | PROT_WRITE;
    tap_init(argv, 35);

    /* Anonymous private memory: zeroed, page-aligned, ours. */
    volatile int *p = (volatile int *)mmap(0, 3 * 4096, rw, MAP_PRIVATE | MAP_ANON, -1);
    ok(mapped(p) && ((long)p & 4095) == 0, "mmap2 anonymous private returns a page-aligned address");
    ok(p[0] == 0 && p[1024] == 0 && p[2047 + 1024] == 0, "its pages read as zero");
    p[0] = 11; p[1024] = 22; p[2048] = 33;
    ok(p[0] == 11 && p[1024] == 22 && p[2048] == 33, "and keep what is written");

    /* fork: a private mapping is copied (on write): the child's writes stay its own. */
    int st = in_child(child_writes, p);
    ok(st == 7 << 8, "the child writes its copy of a private mapping");
    ok(p[0] == 11 && p[1024] == 22, "the parent's private pages are unchanged");

    /* A shared mapping is the same memory in both. */
    volatile int *s = (volatile int *)mmap(0, 2 * 4096, rw, MAP_SHARED | MAP_ANON, -1);
    ok(mapped(s) && s[0] == 0, "mmap2 anonymous shared");
    st = in_child(child_writes, s);
    ok(st == 7 << 8 && s[0] == 0x1234 && s[1024] == 0x5678, "the parent sees the child's writes to a shared mapping");
    s[0] = 99;
    st = in_child(child_reads, s);
    ok(st == 99 << 8, "and the child sees the parent's");

    /* munmap the middle page: touching it now kills the toucher with SIGSEGV. */
    ok(sys6(NR_munmap, (long)p + 4096, 4096, 0, 0, 0, 0) == 0, "munmap of one page of three");
    st = in_child(child_reads, p + 1024);
    ok((st & 0x7f) == 11, "a child touching the unmapped page dies of SIGSEGV");
    ok(p[0] == 11 && p[2048] == 33, "the pages around it are still there");
    ok(sys6(NR_munmap, (long)p, 3 * 4096, 0, 0, 0, 0) == 0, "munmap over a hole is fine");

    /* A big mapping costs nothing until touched. */
    volatile char *big = (volatile char *)mmap(0, 64 << 20, rw, MAP_PRIVATE | MAP_ANON, -1);
    ok(mapped(big), "64 MiB anonymous mapping");
    big[32 << 20] = 5;
    ok(big[32 << 20] == 5 && big[0] == 0 && big[(64 << 20) - 1] == 0, "its pages appear on first touch");
    ok(sys6(NR_munmap, (long)big, 64 << 20, 0, 0, 0, 0) == 0, "and go with munmap");

    /* MAP_FIXED replaces what was there. */
    volatile int *q = (volatile int *)mmap(0, 2 * 4096, rw, MAP_PRIVATE | MAP_ANON, -1);
    q[0] = 1; q[1024] = 2;
    volatile int *r = (volatile int *)mmap((long)q, 4096, rw, MAP_PRIVATE | MAP_ANON | MAP_FIXED, -1);
    ok(r == q && r[0] == 0 && q[1024] == 2, "MAP_FIXED maps fresh zeroed memory over the old");

    /* brk gives back the pages above a lowered break: touching them is SIGSEGV. */
    char *heap = (char *)sys1(NR_brk, 0);
    sys1(NR_brk, heap + 2 * 4096);
    heap[4096] = 1;
    sys1(NR_brk, heap + 4096);
    st = in_child(child_reads, (volatile int *)(heap + 4096));
    ok((st & 0x7f) == 11, "memory above a lowered brk is gone (SIGSEGV)");

    /* PROT_NONE: the page stays, but nothing may touch it, the kernel's
     * copy from it (write) included; mprotect gives it back as it was. */
    volatile int *pn = (volatile int *)mmap(0, 4096, rw, MAP_PRIVATE | MAP_ANON, -1);
    pn[0] = 42;
    long pm = sys3(NR_mprotect, (long)pn, 4096, 0);
    long pw = sys3(NR_write, 1, (long)pn, 1);
    st = in_child(child_touches, pn);
    ok(pm == 0 && pw == -EFAULT && (st & 0x7f) == 11, "PROT_NONE: write() from it is EFAULT, a touch is SIGSEGV");
    ok(sys3(NR_mprotect, (long)pn, 4096, rw) == 0 && pn[0] == 42, "mprotect back to read-write: the contents are kept");

    /* Errors, as Linux gives them. */
    ok(mmap(0, 0, rw, MAP_PRIVATE | MAP_ANON, -1) == -EINVAL, "length 0: EINVAL");
    ok(mmap(0, 4096, rw, MAP_ANON, -1) == -EINVAL, "neither MAP_SHARED nor MAP_PRIVATE: EINVAL");
    /* madvise(MADV_DONTNEED): a private page reads as zeros again, a shared
     * one keeps its contents; an unknown advice is EINVAL, a hole ENOMEM. */
    volatile int *pv = (volatile int *)mmap(0, 2 * 4096, rw, MAP_PRIVATE | MAP_ANON, -1);
    volatile int *sh = (volatile int *)mmap(0, 4096, rw, MAP_SHARED | MAP_ANON, -1);
    pv[0] = 5; pv[1024] = 6; sh[0] = 7;
    long m1 = sys3(NR_madvise, (long)pv, 4096, 4), m2 = sys3(NR_madvise, (long)sh, 4096, 4);
    ok(m1 == 0 && m2 == 0 && pv[0] == 0 && pv[1024] == 6 && sh[0] == 7,
       "madvise(MADV_DONTNEED): a private page is zeros again, the next page and a shared one keep theirs");
    ok(sys3(NR_madvise, (long)pv, 4096, 77) == -EINVAL, "madvise with an unknown advice: EINVAL");
    sys6(NR_munmap, (long)pv + 4096, 4096, 0, 0, 0, 0);
    ok(sys3(NR_madvise, (long)pv, 2 * 4096, 4) == -ENOMEM, "madvise over a hole: ENOMEM");
    /* Flags Linux does not check (MAP_STACK, an unknown bit) are ignored;
     * MAP_SHARED_VALIDATE (3) is for files: anonymous memory gets EINVAL. */
    long f = mmap(0, 4096, rw, MAP_PRIVATE | MAP_ANON | 0x20000 /* MAP_STACK */ | 0x800000, -1);
    ok((unsigned long)f < 0xfffff000ul && sys6(NR_munmap, f, 4096, 0, 0, 0, 0) == 0, "MAP_STACK and an unknown flag: ignored");
    ok(mmap(0, 4096, rw, 3 /* MAP_SHARED_VALIDATE */ | MAP_ANON, -1) == -EINVAL,
       "MAP_SHARED_VALIDATE for anonymous memory: EINVAL");
    ok(mmap(0, 4096, rw, MAP_PRIVATE, 99) == -EBADF, "a file mapping of a closed fd: EBADF");
    ok(mmap(4097, 4096, rw, MAP_PRIVATE | MAP_FIXED | MAP_ANON, -1) == -EINVAL, "MAP_FIXED at an unaligned address: EINVAL");
    ok(mmap(0, 0xfffff000, rw, MAP_PRIVATE | MAP_ANON, -1) == -ENOMEM, "more than the address space: ENOMEM");
    ok(sys6(NR_munmap, 4097, 4096, 0, 0, 0, 0) == -EINVAL, "munmap of an unaligned address: EINVAL");
    ok(sys6(NR_munmap, 0x10000, 0, 0, 0, 0, 0) == -EINVAL, "munmap of length 0: EINVAL");

    /* writev: the buffers in order; the total returned. */
    static const char a[] = "writev: one ", b[] = "two\n";
    struct { const char *base; unsigned long len; } iov[2] = { { a, sizeof a - 1 }, { b, sizeof b - 1 } };
    ok(sys3(NR_writev, 1, iov, 2) == (long)(sizeof a + sizeof b - 2), "writev returns the bytes of every buffer");
    ok(sys3(NR_writev, 1, iov, 1025) == -EINVAL, "writev of more than 1024 buffers: EINVAL");
    ok(sys3(NR_writev, 1, 0xc0000000, 1) == -EFAULT, "writev with an iovec in kernel memory: EFAULT");
    ok(sys3(NR_writev, 99, iov, 1) == -EBADF, "writev on a closed fd: EBADF");

    return tap_done();
}
