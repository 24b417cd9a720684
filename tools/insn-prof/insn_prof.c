/* tools/insn-prof/insn_prof.c - a QEMU TCG plugin that counts the guest
 * instructions executed per translation block, for `make profile`.
 *
 * Each block QEMU translates gets a counter that its generated code bumps
 * inline every time the block runs; at exit the plugin writes one line per
 * block that ran: "<start address in hex> <instructions in the block>
 * <times run>". scripts/profile.sh attributes them to target/kernel.elf's
 * symbols. Under -icount shift=0 this is exactly what the PMU counts.
 *
 * Written against QEMU's plugin API version 1 (QEMU 7.2, Debian bookworm),
 * declaring the few entry points it uses itself. SPDX-License-Identifier: MIT OR Apache-2.0 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum { INLINE_ADD_U64 = 0 };

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, struct qemu_plugin_tb *));
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *, int op, void *ptr, uint64_t imm);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, void *), void *);

struct block { uint64_t vaddr, insns, runs; };

/* One array that never moves: the inline counters point into it. A block
 * translated again (after a TLB flush, say) simply gets a second entry. */
static struct block *blocks;
static size_t nblocks, capacity = 1u << 22;
static const char *out_path = "insn-prof.out";

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    if (nblocks == capacity) return; /* full: later blocks go uncounted */
    struct block *b = &blocks[nblocks++];
    b->vaddr = qemu_plugin_tb_vaddr(tb);
    b->insns = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, INLINE_ADD_U64, &b->runs, 1);
}

static void at_exit(qemu_plugin_id_t id, void *unused)
{
    (void)id; (void)unused;
    FILE *f = fopen(out_path, "w");
    if (!f) return;
    for (size_t i = 0; i < nblocks; i++)
        if (blocks[i].runs)
            fprintf(f, "%llx %llu %llu\n", (unsigned long long)blocks[i].vaddr,
                    (unsigned long long)blocks[i].insns, (unsigned long long)blocks[i].runs);
    if (nblocks == capacity) fprintf(f, "# table full: some blocks were not counted\n");
    fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "out=", 4) == 0) out_path = argv[i] + 4;
    blocks = calloc(capacity, sizeof *blocks);
    if (!blocks) return -1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
