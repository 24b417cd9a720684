//! The kernel's built-in console shell: what `make run` shows until user
//! mode brings `/init` (a line editor on the UART, a few inspection commands).

use crate::board::{cmdline::BootArgs, Platform};
use crate::{arch, console, print, println, time};

const HELP: &str = "\
commands:
  help            this text
  info            board, CPU, memory, command line
  uptime          time since the tick started, jiffies
  irqs            interrupt counts
  ktest [FILTER]  list the in-kernel tests (run them with the boot argument ktest=FILTER)
  ps              the task tree (also SysRq: Ctrl-O t)
  spawn N         fork N kernel threads that sleep 1-3 s and exit (reaped by the shell)
  trace           trace every copy_process step of the next fork
  user            run a small built-in program in user mode (getpid, write, exit)
  panic           panic on purpose (shows the report; ends the QEMU run)
  poweroff        leave QEMU (semihosting) or halt";

fn read_line(buf: &mut [u8]) -> usize {
    let mut n = 0;
    loop {
        let Some(c) = console::getc() else {
            arch::wfi();
            continue;
        };
        match c {
            b'\r' | b'\n' => {
                println!();
                return n;
            }
            0x7f | 0x08 if n > 0 => {
                n -= 1;
                print!("\x08 \x08");
            }
            0x20..=0x7e if n < buf.len() => {
                buf[n] = c;
                n += 1;
                print!("{}", c as char);
            }
            _ => {}
        }
    }
}

fn napper(ticks: usize) -> i32 {
    crate::process::fork::set_task_comm("napper");
    crate::time::wait_ticks(ticks as u64);
    0
}

/// Forks `n` kernel threads that sleep a while; reaps them in the background
/// of the prompt (each `wait4` returns when one exits).
fn spawn(n: usize) {
    let n = n.min(1000);
    let mut ok = 0;
    for i in 0..n {
        match crate::process::fork::kernel_thread(napper, 100 + (i % 3) * 100, 17) {
            Ok(pid) => {
                ok += 1;
                if n <= 10 {
                    println!("forked pid {}", pid);
                }
            }
            Err(e) => {
                println!("fork failed: {}", e);
                break;
            }
        }
    }
    println!("{} kernel threads running; 'ps' shows them, they exit within 3 s", ok);
}

fn user_prog(_: usize) -> i32 {
    crate::process::fork::set_task_comm("hello");
    let e = crate::process::exec::exec_builtin(crate::process::exec::user_hello());
    -(e as i32)
}

/// Runs the built-in user program and reports how it ended.
fn run_user() {
    match crate::process::fork::kernel_thread(user_prog, 0, 17) {
        Ok(pid) => match crate::process::exit::do_wait(pid as i32, 0) {
            Ok((_, status)) => println!(
                "pid {} exited with status {} (wait status {:#x})",
                pid,
                (status >> 8) & 0xff,
                status
            ),
            Err(e) => println!("wait4: {}", e),
        },
        Err(e) => println!("fork failed: {}", e),
    }
}

/// Reaps children that have exited, without waiting.
fn reap() {
    while let Ok((pid, _)) = crate::process::exit::do_wait(-1, crate::process::exit::WNOHANG) {
        if pid == 0 {
            break;
        }
    }
}

pub fn run(p: &Platform<'_>, args: &BootArgs<'_>) -> ! {
    println!("armfork: kernel shell as pid 1. Type 'help'.");
    let mut buf = [0u8; 128];
    loop {
        reap();
        print!("armfork> ");
        let n = read_line(&mut buf);
        let line = core::str::from_utf8(&buf[..n]).unwrap_or("");
        let mut words = line.split_whitespace();
        match words.next() {
            None => {}
            Some("help") => println!("{}", HELP),
            Some("info") => {
                println!(
                    "board {}, {} ({} MiB RAM)",
                    p.board.map_or("unknown", |b| b.name),
                    p.model,
                    p.total_memory() >> 20
                );
                println!("cpu {} midr {:#010x}", arch::cpu_name(arch::cpu_part()), arch::read_midr());
                println!("command line: {}", args.raw);
            }
            Some("uptime") => {
                let us = time::uptime_us();
                println!(
                    "{}.{:06} s, {} jiffies (HZ={})",
                    us / 1_000_000,
                    us % 1_000_000,
                    time::jiffies(),
                    time::HZ
                );
            }
            Some("irqs") => {
                if let Some(t) = time::tick_irq() {
                    println!("irq {:4}: {:10}  timer", t, crate::irq::count(t));
                }
            }
            Some("ktest") => {
                let f = words.next().unwrap_or("");
                for t in crate::ktest::tests() {
                    let name = crate::ktest::display_name(t.name);
                    let mut b = [0u8; 160];
                    let mut w = crate::ktest::BufWriter { buf: &mut b, len: 0 };
                    let _ = core::fmt::write(&mut w, format_args!("{}", name));
                    if core::str::from_utf8(&w.buf[..w.len]).unwrap_or("").contains(f) {
                        println!("  {}", name);
                    }
                }
            }
            Some("ps") => crate::process::exit::show_state(),
            Some("user") => run_user(),
            Some("spawn") => spawn(words.next().and_then(|n| n.parse().ok()).unwrap_or(3)),
            Some("trace") => {
                crate::process::fork::TRACE_NEXT_FORK.store(true, core::sync::atomic::Ordering::Relaxed);
                println!("the next fork will be traced (try: spawn 1)");
            }
            Some("panic") => panic!("requested from the kernel shell"),
            Some("poweroff") => {
                println!("Power down.");
                console::flush();
                arch::semihosting::exit(0);
                arch::halt();
            }
            Some(w) => println!("{}: unknown command (try 'help')", w),
        }
    }
}
