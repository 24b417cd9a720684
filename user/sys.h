/* user/sys.h - raw Linux ARM EABI system calls for the test programs
 * (built with -nostdlib: no libc, so the ABI is exactly the kernel's). */
#ifndef SYS_H
#define SYS_H
typedef unsigned int u32;

static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r0 __asm__("r0") = a;
    register long r1 __asm__("r1") = b;
    register long r2 __asm__("r2") = c;
    register long r3 __asm__("r3") = d;
    register long r4 __asm__("r4") = e;
    register long r5 __asm__("r5") = f;
    register long r7 __asm__("r7") = n;
    __asm__ volatile("svc #0" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r3), "r"(r4), "r"(r5), "r"(r7) : "memory");
    return r0;
}
#define sys0(n) sys6(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

static inline unsigned long slen(const char *s) { unsigned long n = 0; while (s[n]) n++; return n; }
static inline void puts1(const char *s) { sys3(4, 1, s, slen(s)); }
static inline void putnum(unsigned long v)
{
    char b[12]; int i = 11; b[i] = 0;
    do { unsigned long q = 0, r = v; while (r >= 10) { r -= 10; q++; } b[--i] = '0' + r; v = q; } while (v);
    puts1(b + i);
}
#endif
