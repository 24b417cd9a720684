/* user/hello.c - the first program from the initramfs: prints its
 * arguments and environment, checks Linux's initial stack (argc, argv,
 * envp, the auxiliary vector), one TAP line per check, then
 * "N passed, M failed"; exits 42 when every check passed, 1 otherwise.
 * Under the kernel's own test harness (ktest=1 in its environment) the TAP
 * lines are indented as a subtest, so that they do not mix with the
 * harness's numbering. scripts/test-linux.sh runs it on Debian's Linux. */
#include "sys.h"
extern void _start(void);

enum { AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_ENTRY = 9, AT_RANDOM = 25 };

static int n, failed;
static const char *indent = "";

static void check(int ok, const char *what)
{
    n++;
    if (!ok) failed++;
    puts1(indent);
    puts1(ok ? "ok " : "not ok ");
    putnum(n);
    puts1(" - ");
    puts1(what);
    puts1("\n");
}

int main_sp(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    puts1("hello from /init: pid ");
    putnum(sys0(20));
    puts1(", argv:");
    for (long i = 0; i < argc; i++) { puts1(" "); puts1(argv[i]); }
    puts1(", env:");
    char **e = envp;
    while (*e) {
        if (streq(*e, "ktest=1")) indent = "    ";
        puts1(" "); puts1(*e); e++;
    }
    puts1("\n");
    check(argc >= 1 && argv[argc] == 0, "argc >= 1 and argv[argc] is NULL");
    check(argc >= 1 && argv[0][0] == '/', "argv[0] is the program's path");
    unsigned long *auxv = (unsigned long *)(e + 1);
    unsigned long pagesz = 0, entry = 0, phent = 0, phnum = 0, phdr = 0, random = 0;
    for (; auxv[0] != AT_NULL; auxv += 2) {
        switch (auxv[0]) {
        case AT_PAGESZ: pagesz = auxv[1]; break;
        case AT_ENTRY: entry = auxv[1]; break;
        case AT_PHENT: phent = auxv[1]; break;
        case AT_PHNUM: phnum = auxv[1]; break;
        case AT_PHDR: phdr = auxv[1]; break;
        case AT_RANDOM: random = auxv[1]; break;
        }
    }
    check(pagesz == 4096, "AT_PAGESZ is 4096");
    check(entry == (unsigned long)&_start, "AT_ENTRY is _start");
    check(phent == 32, "AT_PHENT is 32 (Elf32_Phdr)");
    check(phnum > 0, "AT_PHNUM is not 0");
    check(phdr != 0 && phnum > 0 && *(unsigned long *)phdr != 0, "AT_PHDR points at the program headers");
    check(random != 0 && random > (unsigned long)sp, "AT_RANDOM points into the stack, above sp");
    puts1(indent);
    putnum(n - failed);
    puts1(" passed, ");
    putnum(failed);
    puts1(" failed\n");
    return failed ? 1 : 42;
}
