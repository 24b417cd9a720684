#!/usr/bin/env python3
"""Attributes insn_prof.c's counts to the kernel's functions.

usage: attribute.py KERNEL_ELF RUN [BASE] [--per N] [--top K]

RUN and BASE are plugin outputs; BASE (a boot-only run) is subtracted, so
what is left is what the benchmark itself executed. --per N divides by N
(iterations). Prints the total and the top K functions (user-mode code is
one line, <user>)."""
import bisect, collections, subprocess, sys

def main():
    args = [a for a in sys.argv[1:]]
    per, top = 1.0, 30
    if '--per' in args:
        i = args.index('--per'); per = float(args[i + 1]); del args[i:i + 2]
    if '--top' in args:
        i = args.index('--top'); top = int(args[i + 1]); del args[i:i + 2]
    elf, run = args[0], args[1]
    base = args[2] if len(args) > 2 else None
    nm = subprocess.run(['nm', '-C', '--defined-only', '-n', elf], capture_output=True, text=True, check=True)
    syms = []
    for line in nm.stdout.splitlines():
        parts = line.split(' ', 2)
        if len(parts) == 3 and parts[1] in 'tTwW':
            syms.append((int(parts[0], 16), parts[2]))
    addrs = [a for a, _ in syms]
    counts = collections.Counter()

    def add(path, sign):
        for line in open(path):
            if line.startswith('#'):
                print(line.strip(), file=sys.stderr)
                continue
            va, n, runs = line.split()
            va = int(va, 16)
            if va < 0x80000000:
                name = '<user>'
            else:
                i = bisect.bisect_right(addrs, va) - 1
                name = syms[i][1] if i >= 0 else '?'
            counts[name] += sign * int(n) * int(runs)

    add(run, 1)
    if base:
        add(base, -1)
    total = sum(counts.values())
    print(f'{total / per:14.1f}  instructions in all' + (f' (per iteration, / {per:g})' if per != 1 else ''))
    for name, v in counts.most_common(top):
        if v <= 0:
            break
        print(f'{v / per:14.1f}  {100.0 * v / total:5.1f}%  {name[:100]}')

main()
