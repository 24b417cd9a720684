/* user/hello.c - the first program from the initramfs: prints its
 * arguments and environment, checks the auxiliary vector, exits 42 when
 * Linux's initial stack is all there. */
#include "sys.h"
extern void _start(void);

enum { AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_ENTRY = 9, AT_RANDOM = 25 };

int main_sp(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    int ok = argc >= 1 && argv[argc] == 0;
    puts1("hello from /init: pid ");
    putnum(sys0(20));
    puts1(", argv:");
    for (long i = 0; i < argc; i++) { puts1(" "); puts1(argv[i]); }
    puts1(", env:");
    char **e = envp;
    while (*e) { puts1(" "); puts1(*e); e++; }
    puts1("\n");
    unsigned long *auxv = (unsigned long *)(e + 1);
    int seen = 0;
    for (; auxv[0] != AT_NULL; auxv += 2) {
        if (auxv[0] == AT_PAGESZ && auxv[1] == 4096) seen |= 1;
        if (auxv[0] == AT_ENTRY && auxv[1] == (unsigned long)&_start) seen |= 2;
        if (auxv[0] == AT_PHENT && auxv[1] == 32) seen |= 4;
        if (auxv[0] == AT_PHNUM && auxv[1] > 0) seen |= 8;
        if (auxv[0] == AT_PHDR && auxv[1] != 0) seen |= 16;
        if (auxv[0] == AT_RANDOM && auxv[1] != 0) seen |= 32;
    }
    if (!ok) puts1("bad argv\n");
    if (seen != 63) { puts1("auxv incomplete: "); putnum(seen); puts1("\n"); }
    return ok && seen == 63 ? 42 : 1;
}
