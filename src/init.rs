//! `start_kernel`: from the boot stub to a running kernel (Linux's init/main.c).

use crate::arch::{self, mmu};
use crate::board::{self, cmdline::BootArgs, Platform};
use crate::{console, irq, ktest, println, time};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Stops the boot with a message on whatever console exists, falling back to
/// the board table's UART when discovery itself failed.
fn boot_fail(fallback_uart: Option<u64>, args: core::fmt::Arguments) -> ! {
    if !console::has_uart() {
        if let Some(va) = fallback_uart.and_then(|pa| mmu::ioremap(pa, 0x1000)) {
            // SAFETY: the board table's PL011, just mapped.
            unsafe { console::init(va, 24_000_000) };
        }
    }
    println!("armfork: cannot boot: {}", args);
    console::flush();
    arch::semihosting::exit(1);
    arch::halt()
}

/// Entered from boot/head.S with the MMU on, on init_task's stack, IRQs masked.
#[no_mangle]
pub extern "C" fn start_kernel(params_phys: u32, machine: u32, kimage_phys: u32, pgd_phys: u32) -> ! {
    mmu::early_init(kimage_phys, pgd_phys);
    let midr = arch::read_midr();
    let part = arch::cpu_part();
    let params = mmu::boot_params(params_phys);
    let fallback = board::board_by_machine(machine, part).map(|b| b.uart);

    let platform = match board::discover(params, machine, part) {
        Ok(p) => p,
        Err(e) => boot_fail(fallback, format_args!("{} (r1 = {:#x}, r2 = {:#x})", e, machine, params_phys)),
    };
    let Some(uart) = platform.uart else {
        // No console to report on: leave QEMU with an error, or stop.
        arch::semihosting::exit(2);
        arch::halt();
    };
    match mmu::ioremap(uart, 0x1000) {
        // SAFETY: the platform's console PL011, just mapped, driven only by console.
        Some(va) => unsafe { console::init(va, 48_000_000) },
        None => boot_fail(None, format_args!("cannot map the UART at {:#x}", uart)),
    }
    let raw_cmdline = core::str::from_utf8(platform.cmdline_bytes).unwrap_or("");
    let args = match BootArgs::parse(raw_cmdline) {
        Ok(a) => a,
        Err(e) => boot_fail(None, format_args!("bad boot arguments: {}", e)),
    };
    console::init_log(args.loglevel.unwrap_or(7));
    crate::mm::kmem::set_slub_debug(args.slub_debug);

    banner(&platform, machine, midr, params_phys, raw_cmdline);
    if let Err(e) = platform.check() {
        boot_fail(None, format_args!("{}", e));
    }
    let platform: &'static Platform<'static> = PLATFORM.call_once(|| platform);

    let ram: [(u64, u64); board::MAX_MEM_REGIONS] =
        core::array::from_fn(|i| (platform.mem[i].base, platform.mem[i].size));
    match mmu::paging_init(&ram[..platform.nr_mem]) {
        Ok(lowmem) => log::info!("Linear map: {} MiB at {:#010x}", lowmem >> 20, mmu::PAGE_OFFSET),
        Err(e) => boot_fail(None, format_args!("paging: {:?}", e)),
    }
    if let Err(e) = crate::mm::page_alloc::mem_init(platform, params_phys) {
        boot_fail(None, format_args!("memory: {}", e));
    }
    if let Err(e) = crate::mm::heap::init() {
        boot_fail(None, format_args!("kernel heap: {}", e));
    }

    let Some(intc) = platform.intc else { unreachable!("checked by Platform::check") };
    match irq::init(intc) {
        Ok(name) => log::info!("IRQ: {} interrupt controller ({:x?})", name, intc),
        Err(e) => boot_fail(None, format_args!("interrupt controller: {}", e)),
    }
    let Some(timer) = platform.timer else { unreachable!("checked by Platform::check") };
    if let Err(e) = time::init(timer) {
        boot_fail(None, format_args!("timer: {}", e));
    }
    let (tname, tfreq) = time::describe();
    log::info!(
        "Timer: {} at {} Hz, tick {} Hz, irq {}",
        tname,
        tfreq,
        time::HZ,
        time::tick_irq().unwrap_or(0)
    );

    crate::arch::arm::vfp::vfp_init();
    crate::drivers::psci::init(platform.psci);
    if let Some(c) = platform.psci {
        log::info!("psci: PSCI 0.2 or later, {:?} conduit (SYSTEM_OFF, SYSTEM_RESET)", c);
    }

    let pages = crate::mm::page_alloc::counters().0;
    if let Err(e) = crate::process::init(pages) {
        boot_fail(None, format_args!("process: {}", e));
    }
    log::info!(
        "Processes: max_threads {}, THREAD_SIZE 8 KiB, task_struct {} bytes",
        crate::process::fork::MAX_THREADS.load(core::sync::atomic::Ordering::Relaxed),
        core::mem::size_of::<crate::process::task::TaskStruct>()
    );
    BOOT_ARGS.call_once(|| args);
    crate::process::KERNEL_INIT.call_once(|| kernel_init_main);
    crate::process::rest_init()
}

static BOOT_ARGS: spin::Once<BootArgs<'static>> = spin::Once::new();

/// What pid 1 runs: the tests, the benchmarks, or (until user mode brings
/// /init) the kernel shell.
fn kernel_init_main() -> ! {
    let args = BOOT_ARGS.get().expect("boot arguments");
    if args.trace == Some("fork") {
        crate::process::fork::TRACE_NEXT_FORK.store(true, core::sync::atomic::Ordering::Relaxed);
    }
    if let Some(filter) = args.kbench {
        crate::kbench::run(filter);
    }
    crate::fs::initramfs::populate_rootfs();
    if let Some(filter) = args.ktest {
        ktest::run(filter, args.ktest_timeout.unwrap_or(10));
    }
    run_init(args);
    crate::kshell::run(platform().expect("platform"), args)
}

/// Where pid 1 is looked for when `init=` does not say (Linux's order).
const DEFAULT_INITS: [&str; 5] = ["/init", "/sbin/init", "/etc/init", "/bin/init", "/bin/sh"];

/// Execs `init=PATH` (default: the first of /init, /sbin/init, /etc/init,
/// /bin/init, /bin/sh that runs) from the initramfs as pid 1, with the boot
/// words the kernel does not use: `k=v` into the environment, plain words
/// as arguments, as Linux does. Returns only if none runs, having said why
/// for each; the caller then starts the kernel shell.
fn run_init(args: &BootArgs<'_>) {
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;
    if crate::process::exec::initramfs().is_none() {
        println!("armfork: no initramfs, so no /init; starting the kernel shell");
        return;
    }
    let explicit = args.init.map(|p| [p]);
    let candidates: &[&str] = match &explicit {
        Some(one) => one,
        None => &DEFAULT_INITS,
    };
    let mut found = false;
    for &path in candidates {
        let data = match crate::fs::initramfs::lookup(path) {
            Some(e) if e.is_file() => {
                found = true;
                e.data
            }
            Some(_) => {
                // It is there: the last word must not say "no such file".
                found = true;
                println!("armfork: {} in the initramfs is not a regular file", path);
                continue;
            }
            None => continue,
        };
        let mut argv: Vec<String> = alloc::vec![path.to_string()];
        let mut envp: Vec<String> = alloc::vec!["HOME=/".to_string(), "TERM=linux".to_string()];
        for p in args.for_init() {
            match p.value {
                Some(v) => envp.push(alloc::format!("{}={}", p.key, v)),
                None => argv.push(p.key.to_string()),
            }
        }
        let a: Vec<&str> = argv.iter().map(|s| s.as_str()).collect();
        let e: Vec<&str> = envp.iter().map(|s| s.as_str()).collect();
        let err = crate::process::exec::exec_image(data, &a, &e);
        println!("armfork: cannot run {} from the initramfs: {}", path, why_not_exec(data, err));
    }
    match explicit {
        Some(_) if found => {
            println!("armfork: init={} did not run; starting the kernel shell", candidates[0])
        }
        Some(_) => println!(
            "armfork: init={}: no such file in the initramfs; starting the kernel shell",
            candidates[0]
        ),
        None => println!(
            "armfork: no working init in the initramfs (looked for {}); starting the kernel shell",
            DEFAULT_INITS.join(", ")
        ),
    }
}

/// Why exec of `image` failed with `err`, in words.
fn why_not_exec(image: &[u8], err: crate::errno::Errno) -> alloc::string::String {
    use crate::process::exec::{check_executable, pages_needed};
    match check_executable(image) {
        Err(e) => alloc::format!("{} ({})", e, err),
        Ok(exe) if err == crate::errno::Errno::ENOMEM => alloc::format!(
            "its segments and stack need {} KiB, more than the {} KiB of free memory ({})",
            pages_needed(&exe) * 4,
            crate::mm::page_alloc::nr_free_pages() * 4,
            err
        ),
        Ok(_) => alloc::format!("{}", err),
    }
}

/// What discovery found, for the rest of the kernel (and its tests).
static PLATFORM: spin::Once<Platform<'static>> = spin::Once::new();

/// The platform description, once start_kernel has it.
pub fn platform() -> Option<&'static Platform<'static>> {
    PLATFORM.get()
}

fn banner(p: &Platform<'_>, machine: u32, midr: u32, params_phys: u32, cmdline: &str) {
    println!("Booting armfork {} on {}", VERSION, p.model);
    let part = ((midr >> 4) & 0xfff) as u16;
    println!(
        "CPU: ARMv7 Processor [{:08x}] revision {} ({}), r{}p{}, cpu {}",
        midr,
        midr & 0xf,
        arch::cpu_name(part),
        (midr >> 20) & 0xf,
        midr & 0xf,
        arch::smp_processor_id()
    );
    let source = match p.source {
        board::Source::Dtb => "device tree",
        board::Source::Atags => "ATAGs",
        board::Source::None => "nothing",
    };
    println!(
        "Machine: {} (machine number {:#x}), described by {} at {:#010x}",
        p.board.map_or("unknown board", |b| b.name),
        machine,
        source,
        params_phys
    );
    println!("Memory: {} MiB", p.total_memory() >> 20);
    for m in p.memory() {
        println!("  RAM  {:#010x}-{:#010x}", m.base, m.end() - 1);
    }
    let (ks, ke) = mmu::kimage_phys_range();
    println!("  image {:#010x}-{:#010x} (linked at {:#010x})", ks, ke - 1, mmu::KIMAGE_VADDR);
    if let Some((s, e)) = p.initrd {
        println!("  initrd {:#010x}-{:#010x}", s, e - 1);
    }
    println!("UART: PL011 at {:#010x}", p.uart.unwrap_or(0));
    println!("Kernel command line: {}", cmdline);
}
