/* t_vfp - VFP and Advanced SIMD (NEON) in user mode, as a Linux ARM
 * (hard-float EABI) program uses them: double and float arithmetic done
 * by the compiler, NEON integer vectors, all 32 D registers and FPSCR kept
 * per process across fork, sched_yield and preemption, a fresh state after
 * execve, and an encoding the unit rejects giving SIGILL. Built without
 * -mgeneral-regs-only, with -mfpu=neon. */
#include "t.h"

typedef unsigned long long u64;

/* Compiler-generated VFP: the values go through volatile memory so that
 * nothing is folded at compile time. */
static volatile double vd[4] = { 1.5, 2.25, 3.0, 0.1 };
static volatile float vf = 0.5f;
static volatile int vi = 7;

static int doubles_ok(void)
{
    double a = vd[0], b = vd[1];
    double p = a * b;                 /* 3.375 */
    double q = vd[2] / a;             /* 2.0 */
    double s = a + b - vd[2];         /* 0.75 */
    double t = 0;
    for (int i = 0; i < 10; i++) t += vd[3];
    return p == 3.375 && q == 2.0 && s == 0.75 && t > 0.9999999 && t < 1.0000001;
}

static int float_loop_ok(void)
{
    float sum = 0;
    for (int i = 0; i < 1000; i++) sum += (float)i * vf;   /* 0.5 * 499500 */
    return sum == 249750.0f;
}

static int conversions_ok(void)
{
    double d = (double)vi / 2;        /* 3.5 */
    int back = (int)(d * 4);          /* 14 */
    unsigned u = (unsigned)(d * 1e6); /* 3500000 */
    return d == 3.5 && back == 14 && u == 3500000u;
}

static int vsqrt_ok(void)
{
    double x = vd[1], r;              /* sqrt(2.25) = 1.5 */
    __asm__ volatile("vsqrt.f64 %P0, %P1" : "=w"(r) : "w"(x));
    return r == 1.5;
}

/* NEON: a = b + c on four 32-bit lanes, loaded and stored with vld1/vst1. */
static int neon_add_ok(void)
{
    static int b[4] = { 1, 2, 3, 0x7fffffff }, c[4] = { 10, 20, 30, 1 };
    int a[4] = { 0, 0, 0, 0 };
    __asm__ volatile(
        "vld1.32 {d2-d3}, [%1]\n\t"
        "vld1.32 {d4-d5}, [%2]\n\t"
        "vadd.i32 q0, q1, q2\n\t"
        "vst1.32 {d0-d1}, [%0]\n\t"
        : : "r"(a), "r"(b), "r"(c) : "d0", "d1", "d2", "d3", "d4", "d5", "memory");
    return a[0] == 11 && a[1] == 22 && a[2] == 33 && a[3] == (int)0x80000000;
}

/* All 32 D registers: d_n = seed * 0x0101010101010101 + n, written and read
 * back with vstm/vldm around `between` (a yield, ...). */
static int dregs_survive(u64 seed, void (*between)(void), int rounds)
{
    static u64 in[32] __attribute__((aligned(8))), out[32] __attribute__((aligned(8)));
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < 32; i++) in[i] = (seed + r) * 0x0101010101010101ull + i;
        __asm__ volatile("vldmia %0, {d0-d15}\n\tvldmia %1, {d16-d31}" : : "r"(in), "r"(in + 16) : "memory",
                         "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13",
                         "d14", "d15", "d16", "d17", "d18", "d19", "d20", "d21", "d22", "d23", "d24", "d25",
                         "d26", "d27", "d28", "d29", "d30", "d31");
        between();
        __asm__ volatile("vstmia %0, {d0-d15}\n\tvstmia %1, {d16-d31}" : : "r"(out), "r"(out + 16) : "memory");
        for (int i = 0; i < 32; i++) if (out[i] != in[i]) return 0;
    }
    return 1;
}

/* The same from Thumb state (32-bit Thumb-2 VFP and NEON encodings): the
 * trap handler must find the instruction at the right address. */
__attribute__((target("thumb"), noinline)) static int thumb_vfp_ok(void)
{
    double r, a = vd[0], b = vd[2];   /* 1.5 + 3.0 */
    __asm__ volatile("vadd.f64 %P0, %P1, %P2" : "=w"(r) : "w"(a), "w"(b));
    static int x[4] = { 5, 6, 7, 8 };
    int y[4];
    __asm__ volatile("vld1.32 {d0-d1}, [%1]\n\tvadd.i32 q0, q0, q0\n\tvst1.32 {d0-d1}, [%0]"
                     : : "r"(y), "r"(x) : "d0", "d1", "memory");
    return r == 4.5 && y[0] == 10 && y[3] == 16;
}

static void yield(void) { sys0(NR_sched_yield); }
static void spin(void) { for (volatile int i = 0; i < 200000; i++) { } }

static unsigned get_fpscr(void) { unsigned v; __asm__ volatile("vmrs %0, fpscr" : "=r"(v)); return v; }
static void set_fpscr(unsigned v) { __asm__ volatile("vmsr fpscr, %0" : : "r"(v) : "memory"); }

#define RMODE_ZERO (3u << 22)   /* FPSCR.RMode: round towards zero */
#define FZ (1u << 24)

/* Run after execve by the exec test: exit 0 if this new program starts
 * with FPSCR 0 and zeroed D registers. */
static int exec_probe(void)
{
    u64 d[32];
    __asm__ volatile("vstmia %0, {d0-d15}\n\tvstmia %1, {d16-d31}" : : "r"(d), "r"(d + 16) : "memory");
    int bad = get_fpscr() != 0;
    for (int i = 0; i < 32; i++) if (d[i] != 0) bad |= 2;
    return bad;
}

int test_main(int argc, char **argv, char **envp)
{
    if (argc > 1 && streq(argv[1], "--exec-probe")) return exec_probe();
    tap_init(argv, 13);

    ok(doubles_ok(), "double arithmetic (vmul, vdiv, vadd, vsub) gives exact results");
    ok(float_loop_ok(), "a float loop sums to 249750");
    ok(conversions_ok(), "int <-> double conversions (vcvt)");
    ok(vsqrt_ok(), "vsqrt.f64 of 2.25 is 1.5");
    ok(neon_add_ok(), "NEON vadd.i32 on four lanes (vld1/vst1), with wrap-around");
    ok(dregs_survive(0x11, yield, 20), "d0-d31 keep their values across sched_yield");

    /* fork: the child starts with the parent's d8/d9 and FPSCR, changes
     * them; the parent's are its own after wait4. */
    u64 p8 = 0x0123456789abcdefull, p9 = 0xfedcba9876543210ull, r8, r9;
    set_fpscr(RMODE_ZERO);
    __asm__ volatile("vmov d8, %Q0, %R0\n\tvmov d9, %Q1, %R1" : : "r"(p8), "r"(p9) : "d8", "d9");
    long c = sys0(NR_fork);
    if (c == 0) {
        u64 c8, c9;
        __asm__ volatile("vmov %Q0, %R0, d8\n\tvmov %Q1, %R1, d9" : "=r"(c8), "=r"(c9));
        int bad = (c8 != p8 || c9 != p9) | (get_fpscr() != RMODE_ZERO) << 1;
        u64 n8 = 0x1111111122222222ull, n9 = 0x3333333344444444ull;
        __asm__ volatile("vmov d8, %Q0, %R0\n\tvmov d9, %Q1, %R1" : : "r"(n8), "r"(n9) : "d8", "d9");
        set_fpscr(FZ);
        for (int i = 0; i < 5; i++) yield();
        __asm__ volatile("vmov %Q0, %R0, d8\n\tvmov %Q1, %R1, d9" : "=r"(c8), "=r"(c9));
        if (c8 != n8 || c9 != n9 || get_fpscr() != FZ) bad |= 4;
        sys_exit(bad);
    }
    int st = -1;
    long w = wait4(c, &st, 0);
    __asm__ volatile("vmov %Q0, %R0, d8\n\tvmov %Q1, %R1, d9" : "=r"(r8), "=r"(r9));
    unsigned fpscr = get_fpscr();
    set_fpscr(0);
    ok(c > 0 && w == c && WIFEXITED(st) && (WEXITSTATUS(st) & 3) == 0,
       "fork: the child starts with the parent's d8, d9 and FPSCR");
    ok(WIFEXITED(st) && (WEXITSTATUS(st) & 4) == 0, "fork: the child's own d8, d9 and FPSCR stay its own");
    ok(r8 == p8 && r9 == p9 && fpscr == RMODE_ZERO, "fork: the parent's d8, d9 and FPSCR are untouched by the child");

    /* Two processes using all 32 registers at once, yielding to each other
     * and being preempted (spinning): each sees only its own values. */
    c = sys0(NR_fork);
    if (c == 0) {
        set_fpscr(FZ);
        int good = dregs_survive(0x40, yield, 200) && dregs_survive(0x60, spin, 5) && get_fpscr() == FZ;
        sys_exit(good ? 0 : 1);
    }
    int mine = dregs_survive(0x20, yield, 200) && dregs_survive(0x80, spin, 5) && get_fpscr() == 0;
    st = -1;
    w = wait4(c, &st, 0);
    ok(mine && w == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "two processes using d0-d31 and FPSCR while yielding and preempted each keep their own");

    /* execve: the new program starts with FPSCR 0 and zeroed registers,
     * whatever the caller had. */
    c = sys0(NR_fork);
    if (c == 0) {
        set_fpscr(RMODE_ZERO | FZ);
        u64 junk = 0x5555aaaa5555aaaaull;
        __asm__ volatile("vmov d0, %Q0, %R0\n\tvmov d8, %Q0, %R0\n\tvmov d31, %Q0, %R0" : : "r"(junk) : "d0", "d8", "d31");
        const char *av[] = { argv[0], "--exec-probe", 0 };
        sys3(NR_execve, argv[0], av, envp);
        sys_exit(99);
    }
    st = -1;
    w = wait4(c, &st, 0);
    ok(w == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "execve: the new program starts with FPSCR 0 and zeroed D registers");

    /* Thumb: a fresh child's first VFP instruction is a Thumb-2 one. */
    c = sys0(NR_fork);
    if (c == 0) sys_exit(thumb_vfp_ok() ? 0 : 1);
    st = -1;
    w = wait4(c, &st, 0);
    ok(w == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "VFP and NEON in Thumb state, trapped first in Thumb");

    /* A coprocessor-10 encoding the unit does not have (vmrs from system
     * register 3): SIGILL, first use or not. */
    c = sys0(NR_fork);
    if (c == 0) {
        __asm__ volatile(".inst 0xeef30a10" : : : "r0");
        sys_exit(0);
    }
    st = -1;
    w = wait4(c, &st, 0);
    ok(w == c && WIFSIGNALED(st) && WTERMSIG(st) == 4, "an unallocated VFP encoding: SIGILL");
    return tap_done();
}
