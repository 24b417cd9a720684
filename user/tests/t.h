/* user/tests/t.h - what the test programs share: sys.h's calls and TAP,
 * raw_clone (clone.S), and helpers for children and bounded waits. */
#ifndef T_H
#define T_H
#include "../sys.h"

long raw_clone(unsigned flags, void *newsp, int *ptid, unsigned tls, int *ctid, int (*fn)(void *), void *arg);

/* What GCC may call for struct copies and initialisers in a program
 * without a C library (byte loops through volatile pointers, so that the
 * compiler does not turn them back into calls of themselves). */
void *memset(void *d, int c, unsigned long n)
{
    volatile unsigned char *p = d;
    while (n--) *p++ = (unsigned char)c;
    return d;
}
void *memcpy(void *d, const void *s, unsigned long n)
{
    volatile unsigned char *p = d;
    const volatile unsigned char *q = s;
    while (n--) *p++ = *q++;
    return d;
}

/* libgcc's 64-bit division (linked with -lgcc) raises SIGFPE through
 * raise() on a division by zero, as a C library would. */
int raise(int sig) { return (int)sys2(NR_kill, sys0(NR_getpid), sig); }

/* Each test program defines test_main(argc, argv, envp). */
int test_main(int argc, char **argv, char **envp);
int main_sp(long *sp)
{
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    return test_main(argc, argv, argv + argc + 1);
}

/* A child stack for raw_clone: the top of an 8-byte aligned array. */
#define STACK_TOP(a) ((void *)((char *)(a) + sizeof(a)))

/* Waits for `pid` up to `ms` milliseconds (polling with WNOHANG): its
 * pid, 0 if it is still there after that, or -errno. */
static inline long wait_bounded(long pid, int *status, long ms)
{
    long end = now_ms() + ms;
    for (;;) {
        long r = wait4(pid, status, WNOHANG);
        if (r != 0 || now_ms() > end) return r;
        sleep_ms(5);
    }
}

/* Waits (up to `ms`) until *c has moved past `min` and then stays still
 * for 50 ms: how a test sees that a thread counting in shared memory is
 * gone. 1 if it stopped, 0 if it kept moving (or never got going). */
static inline int counter_stops(volatile unsigned *c, unsigned min, long ms)
{
    long end = now_ms() + ms;
    while (now_ms() < end) {
        unsigned v = *c;
        sleep_ms(50);
        if (v >= min && *c == v) return 1;
    }
    return 0;
}

/* A thread body counting in *arg (a volatile unsigned) until it is ended:
 * how a test sees that a thread still runs (counter_stops). */
static inline int count_forever(void *arg)
{
    volatile unsigned *c = arg;
    for (;;) (*c)++;
    return 0;
}

static inline unsigned get_tls(void)
{
    unsigned v;
    __asm__ volatile("mrc p15, 0, %0, c13, c0, 3" : "=r"(v));
    return v;
}

static inline long futex(int *uaddr, int op, int val) { return sys6(NR_futex, (long)uaddr, op, val, 0, 0, 0); }
#endif
