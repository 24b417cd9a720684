#!/usr/bin/env python3
"""Annotates one kernel function's disassembly with how often each
instruction ran (insn_prof.c's counts, boot-only run subtracted).

usage: annotate.py KERNEL_ELF RUN BASE FUNCTION [--per N]

FUNCTION is a substring of the demangled symbol name; the first match
(lowest address) is shown. Each line is `runs-per-iteration  disassembly`;
lines that never ran in the benchmark show a dash."""
import collections, re, subprocess, sys

def main():
    args = sys.argv[1:]
    per = 1.0
    if '--per' in args:
        i = args.index('--per'); per = float(args[i + 1]); del args[i:i + 2]
    elf, run, base, func = args
    # Per-instruction counts: a translation block of n instructions at va
    # covers va, va+4, ... (the kernel is A32 code).
    hits = collections.Counter()
    for path, sign in ((run, 1), (base, -1)):
        for line in open(path):
            if line.startswith('#'):
                continue
            va, n, runs = line.split()
            va, n, runs = int(va, 16), int(n), int(runs)
            for k in range(n):
                hits[va + 4 * k] += sign * runs
    nm = subprocess.run(['nm', '-C', '--defined-only', '-n', '-S', elf], capture_output=True, text=True, check=True)
    match = None
    for line in nm.stdout.splitlines():
        parts = line.split(' ', 3)
        if len(parts) == 4 and parts[2] in 'tTwW' and func in parts[3]:
            match = (int(parts[0], 16), int(parts[1], 16), parts[3])
            break
    if not match:
        sys.exit(f'no function matching {func!r} in {elf}')
    start, size, name = match
    # An ARM objdump: the bare-metal one, the Linux cross one (what
    # scripts/setup.sh installs), or a multi-architecture host one.
    tool = next((t for t in ('arm-none-eabi-objdump', 'arm-linux-gnueabihf-objdump') if has(t)), 'objdump')
    dis = subprocess.run([tool, '-d', '-C',
                          '--no-show-raw-insn', f'--start-address={start:#x}', f'--stop-address={start + size:#x}', elf],
                         capture_output=True, text=True, check=True)
    total = 0
    print(f'{name} ({size} bytes)')
    for line in dis.stdout.splitlines():
        m = re.match(r'\s*([0-9a-f]+):\s+(.*)', line)
        if not m:
            continue
        va = int(m.group(1), 16)
        c = hits.get(va, 0)
        total += max(c, 0)
        col = f'{c / per:9.2f}' if c > 0 else '        -'
        print(f'{col}  {va:08x}  {m.group(2)}')
    print(f'{total / per:9.2f}  in all (per iteration)')

def has(tool):
    import shutil
    return shutil.which(tool) is not None

main()
