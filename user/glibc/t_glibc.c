/* t_glibc - an ordinary C program, linked statically against Debian's
 * glibc (not -nostdlib like the other tests): its start-up (TLS, RELRO
 * made read-only with mprotect, the stdio buffers), malloc, fork and
 * waitpid, pthreads (clone, futexes with FUTEX_WAIT_BITSET, mutexes and
 * condition variables, also PTHREAD_PROCESS_SHARED ones between two
 * processes in a MAP_SHARED page), abort() and raise() with the default
 * actions, as a program built by a standard toolchain uses them.
 *
 * TAP as user/sys.h speaks it: alone it prints "ok N - t_glibc: ..." and
 * the closing "N passed, M failed"; --plan exits with the number of tests,
 * --tap=B numbers from B+1 and exits with the failures, --quiet prints
 * nothing. The same binary runs on Linux (make test-linux). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { PLAN = 18 };
static int n, failed, base, quiet, quiet_end;
static const char *prog = "t_glibc";

static void ok(int cond, const char *name)
{
    n++;
    if (!cond) failed++;
    if (!quiet) {
        printf("%sok %d - %s: %s\n", cond ? "" : "not ", base + n, prog, name);
        fflush(stdout);
    }
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* A child running f; its wait status. */
static int in_child(void (*f)(void))
{
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        f();
        _exit(0);
    }
    int st = -1;
    if (waitpid(c, &st, 0) != c) return -1;
    return st;
}

static void do_abort(void) { abort(); }
static void do_usr1(void) { raise(SIGUSR1); _exit(1); }
static void do_ignored(void) { raise(SIGCHLD); raise(SIGURG); raise(SIGWINCH); _exit(3); }
static char *ro_page;
static void write_ro(void) { ro_page[0] = 1; _exit(1); }

/* Threads: a contended mutex, a condition variable, join values. */
enum { THREADS = 4, ROUNDS = 20000 };
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter, turn;
static __thread long tls_value;

static void *adder(void *arg)
{
    long id = (long)arg;
    tls_value = id * 100;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        if (i % 1000 == 0) sched_yield();   /* hold it across a switch: others wait on the futex */
        pthread_mutex_unlock(&lock);
    }
    return (void *)(tls_value + id);
}

static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (turn == 0) pthread_cond_wait(&cond, &lock);
    turn = 2;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    return 0;
}

/* A mutex and a condition variable shared by two processes (glibc's
 * PTHREAD_PROCESS_SHARED: its futex ops are shared ones, keyed by the page). */
struct pshared {
    pthread_mutex_t m;
    pthread_cond_t c;
    int flag;
    long count;
};
enum { PS_ROUNDS = 20000 };

static struct pshared *pshared_new(void)
{
    struct pshared *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    if (pthread_mutex_init(&p->m, &ma) != 0 || pthread_cond_init(&p->c, &ca) != 0) return 0;
    return p;
}

/* Waits for child c up to 3 s (then kills it): 1 if it exited 0. */
static int child_done(pid_t c)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int st = -1;
    while (ms_since(&t0) < 3000) {
        if (waitpid(c, &st, WNOHANG) == c) return WIFEXITED(st) && WEXITSTATUS(st) == 0;
        struct timespec pause = { 0, 5 * 1000 * 1000 };
        nanosleep(&pause, 0);
    }
    kill(c, SIGKILL);
    waitpid(c, &st, 0);
    return 0;
}

/* A deadline 3 s from now on CLOCK_REALTIME (pthread_mutex_timedlock's clock). */
static struct timespec in_3s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += 3;
    return t;
}

/* The child sleeps on the condition variable until the parent signals it. */
static int pshared_cond(struct pshared *p)
{
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        pthread_mutex_lock(&p->m);
        p->flag = 1;
        while (p->flag != 2) pthread_cond_wait(&p->c, &p->m);
        p->flag = 3;
        pthread_mutex_unlock(&p->m);
        _exit(0);
    }
    /* Once the child waits (it set flag 1 and let go of the mutex in
     * pthread_cond_wait), wake it. */
    int seen = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!seen && ms_since(&t0) < 3000) {
        struct timespec until = in_3s();
        if (pthread_mutex_timedlock(&p->m, &until) != 0) break;
        if (p->flag == 1) {
            seen = 1;
            p->flag = 2;
            pthread_cond_signal(&p->c);
        }
        pthread_mutex_unlock(&p->m);
        struct timespec pause = { 0, 2 * 1000 * 1000 };
        if (!seen) nanosleep(&pause, 0);
    }
    return c > 0 && seen && child_done(c) && p->flag == 3;
}

/* Both processes add to one counter under the mutex, yielding now and then
 * with it held, so that the other sleeps on its futex. */
static int pshared_mutex(struct pshared *p)
{
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < PS_ROUNDS; i++) {
            pthread_mutex_lock(&p->m);
            p->count++;
            if (i % 500 == 0) sched_yield();
            pthread_mutex_unlock(&p->m);
        }
        _exit(0);
    }
    int good = c > 0;
    for (int i = 0; good && i < PS_ROUNDS; i++) {
        struct timespec until = in_3s();
        if (pthread_mutex_timedlock(&p->m, &until) != 0) { good = 0; break; }
        p->count++;
        if (i % 500 == 250) sched_yield();
        pthread_mutex_unlock(&p->m);
    }
    return child_done(c) && good && p->count == 2 * PS_ROUNDS;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--plan") == 0) return PLAN;
    if (argc > 1 && strncmp(argv[1], "--tap=", 6) == 0) { base = atoi(argv[1] + 6); quiet_end = 1; }
    if (argc > 1 && strcmp(argv[1], "--quiet") == 0) quiet = quiet_end = 1;

    /* stdout: the console, a character device and a terminal, so stdio
     * buffers it by lines (a fork below would print buffered text twice
     * otherwise). */
    struct stat st;
    ok(fstat(1, &st) == 0 && S_ISCHR(st.st_mode) && isatty(1), "fstat(1): a character device; isatty(1)");

    /* malloc: small blocks from brk, a large one from mmap. */
    char *small[64];
    int good = 1;
    for (int i = 0; i < 64; i++) { small[i] = malloc(16 + i * 40); if (!small[i]) good = 0; else memset(small[i], i, 16 + i * 40); }
    char *big = malloc(4 << 20);
    if (!big) good = 0; else { memset(big, 0x5a, 4 << 20); }
    for (int i = 0; good && i < 64; i++) if (small[i][15 + i * 40] != (char)i) good = 0;
    ok(good && big && big[(4 << 20) - 1] == 0x5a, "malloc: 64 small blocks and a 4 MiB one, contents kept");

    /* fork: the child's writes stay its own; waitpid gets its exit code. */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) { big[0] = 1; _exit(big[0] == 1 ? 7 : 8); }
    int ws = -1;
    ok(c > 0 && waitpid(c, &ws, 0) == c && WIFEXITED(ws) && WEXITSTATUS(ws) == 7 && big[0] == 0x5a,
       "fork + waitpid: the exit code; the child's write stayed in the child");
    for (int i = 0; i < 64; i++) free(small[i]);
    free(big);

    /* pthreads: four threads contending for one mutex. */
    pthread_t t[THREADS];
    int created = 1;
    for (long i = 0; i < THREADS; i++) if (pthread_create(&t[i], 0, adder, (void *)i) != 0) created = 0;
    ok(created, "pthread_create: four threads");
    long sum = 0;
    for (int i = 0; created && i < THREADS; i++) { void *r = 0; pthread_join(t[i], &r); sum += (long)r; }
    ok(created && counter == THREADS * ROUNDS, "a contended mutex: every increment counted");
    ok(created && sum == (0 + 101 + 202 + 303), "pthread_join: each thread's value (its own TLS)");

    /* A condition variable, both ways. */
    pthread_t w;
    int wc = pthread_create(&w, 0, waiter, 0);
    struct timespec pause = { 0, 20 * 1000 * 1000 };
    nanosleep(&pause, 0);
    pthread_mutex_lock(&lock);
    turn = 1;
    pthread_cond_signal(&cond);
    while (turn != 2) pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    ok(wc == 0 && pthread_join(w, 0) == 0 && turn == 2, "pthread_cond_wait / pthread_cond_signal, both ways");

    /* Process-shared: a condition variable and a contended mutex between
     * this process and a child, in a MAP_SHARED page. */
    struct pshared *ps = pshared_new();
    ok(ps && pshared_cond(ps), "PTHREAD_PROCESS_SHARED condition variable: a child's pthread_cond_wait woken by our signal");
    ok(ps && pshared_mutex(ps), "PTHREAD_PROCESS_SHARED mutex contended by two processes: every increment counted");

    /* A timed wait that times out (FUTEX_WAIT_BITSET, an absolute time). */
    struct timespec t0, until;
    clock_gettime(CLOCK_REALTIME, &until);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    until.tv_nsec += 30 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
    pthread_mutex_lock(&lock);
    int tr = pthread_cond_timedwait(&cond, &lock, &until);
    pthread_mutex_unlock(&lock);
    ok(tr == ETIMEDOUT && ms_since(&t0) >= 25, "pthread_cond_timedwait: ETIMEDOUT after its time");

    /* Default actions. */
    int s = in_child(do_abort);
    ok(WIFSIGNALED(s) && WTERMSIG(s) == SIGABRT, "abort(): the child dies of SIGABRT");
    s = in_child(do_usr1);
    ok(WIFSIGNALED(s) && WTERMSIG(s) == SIGUSR1, "raise(SIGUSR1): the default action ends the process");
    s = in_child(do_ignored);
    ok(WIFEXITED(s) && WEXITSTATUS(s) == 3, "SIGCHLD, SIGURG, SIGWINCH: ignored by default");
    ok(syscall(SYS_tgkill, getpid() + 1000000, getpid(), 0) == -1 && errno == ESRCH,
       "tgkill with another process's tgid: ESRCH");

    /* mprotect: a page made read-only faults on a write, then is writable again. */
    ro_page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ro_page[1] = 9;
    int mp = mprotect(ro_page, 4096, PROT_READ);
    s = in_child(write_ro);
    int mp2 = mprotect(ro_page, 4096, PROT_READ | PROT_WRITE);
    ro_page[0] = 2;
    ok(mp == 0 && WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && mp2 == 0 && ro_page[0] == 2 && ro_page[1] == 9,
       "mprotect: read-only (a write is SIGSEGV), then writable again, contents kept");
    char *three = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(three + 4096, 4096);
    ok(mprotect(three, 3 * 4096, PROT_READ) == -1 && errno == ENOMEM,
       "mprotect over a hole: ENOMEM");

    /* mmap: a hint that is free is taken; MAP_FIXED_NOREPLACE refuses a used range. */
    char *hint = (char *)0x30000000;
    char *m = mmap(hint, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *again = mmap(hint, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    ok(m == hint && again == MAP_FAILED && errno == EEXIST, "mmap: a free hint is taken; MAP_FIXED_NOREPLACE over it: EEXIST");

    /* getrandom: bytes that are not all the same. */
    unsigned char r[64];
    memset(r, 0, sizeof r);
    long got = syscall(SYS_getrandom, r, sizeof r, 0);
    int varied = 0;
    for (int i = 1; i < 64; i++) if (r[i] != r[0]) varied = 1;
    ok(got == 64 && varied, "getrandom: 64 bytes, not all alike");

    if (n != PLAN && !quiet) printf("# t_glibc: ran %d tests, planned %d\n", n, PLAN);
    if (n < PLAN) failed += PLAN - n;
    if (quiet_end) return failed > 255 ? 255 : failed;
    printf("%d passed, %d failed\n", n - failed, failed);
    return failed ? 1 : 0;
}
