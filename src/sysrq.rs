//! Magic SysRq on the serial console: Ctrl-O, then a key, at any time (the
//! timer tick polls the UART), as Linux's Alt-SysRq or serial break.

use crate::println;

struct Key {
    key: u8,
    help: &'static str,
    run: fn(),
}

fn show_help() {
    println!("SysRq (Ctrl-O then a key):");
    for k in KEYS {
        println!("  {}  {}", k.key as char, k.help);
    }
}

fn show_uptime() {
    let us = crate::time::uptime_us();
    println!("uptime {}.{:06} s, jiffies {}", us / 1_000_000, us % 1_000_000, crate::time::jiffies());
}

const KEYS: &[Key] = &[
    Key { key: b'h', help: "this help", run: show_help },
    Key {
        key: b'm',
        help: "meminfo: page allocator and heap counters, free blocks per order",
        run: crate::mm::page_alloc::show_mem,
    },
    Key { key: b's', help: "slabinfo: every slab cache", run: crate::mm::kmem::show_slabinfo },
    Key {
        key: b't',
        help: "tasks: pid, tgid, parent, state and name of every task, as a tree",
        run: crate::process::exit::show_state,
    },
    Key { key: b'u', help: "uptime and jiffies", run: show_uptime },
];

/// Runs the SysRq command for `key` (from the tick, IRQs masked).
pub fn handle(key: u8) {
    match KEYS.iter().find(|k| k.key == key) {
        Some(k) => {
            println!();
            println!("SysRq : {}", k.help);
            (k.run)();
        }
        None => show_help(),
    }
}
