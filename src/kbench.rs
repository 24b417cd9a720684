//! In-kernel benchmarks (boot argument `kbench[=FILTER]`, run by `make bench`).
//!
//! Figures are PMU cycle counts per iteration. Under QEMU with
//! `-icount shift=0,align=off,sleep=off` one cycle is one guest instruction,
//! exactly and repeatably, so each figure is "instructions per operation",
//! with the cost of the empty measuring loop subtracted.

use aarch32_cpu::register::{Pmccntr, Pmcntenset, Pmcr};

/// One registered benchmark.
#[repr(C)]
pub struct KBench {
    pub name: &'static str,
    pub func: fn(&mut Bencher),
}

/// Defines a function and registers it as a benchmark named by the function's name.
#[macro_export]
macro_rules! kbench {
    (fn $name:ident($b:ident: &mut Bencher) $body:block) => {
        fn $name($b: &mut $crate::kbench::Bencher) $body
        const _: () = {
            #[used]
            #[link_section = ".kbench"]
            static KBENCH: $crate::kbench::KBench =
                $crate::kbench::KBench { name: stringify!($name), func: $name };
        };
    };
}

extern "C" {
    static __kbench_start: u8;
    static __kbench_end: u8;
}

fn benches() -> &'static [KBench] {
    // SAFETY: the linker script gathers only KBench statics between these symbols.
    unsafe {
        let s = &__kbench_start as *const u8 as *const KBench;
        let e = &__kbench_end as *const u8 as *const KBench;
        core::slice::from_raw_parts(s, e.offset_from(s) as usize)
    }
}

fn enable_pmu() {
    // SAFETY: PMCR.E | PMCR.C (enable, reset the cycle counter), and the
    // cycle counter enable bit; only this module uses the PMU.
    unsafe {
        Pmcr::write(Pmcr(Pmcr::read().0 | 1 | (1 << 2)));
        Pmcntenset::write(Pmcntenset(1 << 31));
    }
}

#[inline(always)]
fn cycles() -> u32 {
    Pmccntr::read().0
}

/// Measures closures.
pub struct Bencher {
    result: Option<u64>,
}

impl Bencher {
    /// Runs `f` `n` times and records the mean cost of one call, less the
    /// cost of the loop itself.
    #[inline(never)]
    pub fn iter<F: FnMut()>(&mut self, n: u32, mut f: F) {
        f(); // warm up (first-touch faults, lazy init)
        let t0 = cycles();
        for _ in 0..n {
            f();
            core::hint::black_box(());
        }
        let t1 = cycles();
        let empty = || {};
        let b0 = cycles();
        for _ in 0..n {
            empty();
            core::hint::black_box(());
        }
        let b1 = cycles();
        let total = t1.wrapping_sub(t0) as u64;
        let base = b1.wrapping_sub(b0) as u64;
        self.result = Some(total.saturating_sub(base) / n as u64);
    }

    /// Halves the figure (an iteration that did two of the thing measured).
    pub fn halve(&mut self) {
        self.result = self.result.map(|v| v / 2);
    }

    /// Records a figure measured by other means (e.g. one long operation).
    pub fn record(&mut self, value: u64) {
        self.result = Some(value);
    }
}

/// Runs the benchmarks whose names contain `filter`, prints `name value`
/// lines, and ends the QEMU run.
pub fn run(filter: &str) -> ! {
    enable_pmu();
    crate::println!("# kbench: figures are PMU cycles per operation (instructions under -icount shift=0)");
    for b in benches().iter().filter(|b| filter.is_empty() || filter.split(',').any(|f| b.name.contains(f))) {
        let mut bencher = Bencher { result: None };
        (b.func)(&mut bencher);
        match bencher.result {
            Some(v) => crate::println!("{} {}", b.name, v),
            None => crate::println!("# {}: measured nothing", b.name),
        }
    }
    crate::console::flush();
    crate::arch::semihosting::exit(0);
    crate::arch::halt()
}

kbench! {
    fn irq_save_restore(b: &mut Bencher) {
        b.iter(1000, || {
            let f = crate::arch::local_irq_save();
            crate::arch::local_irq_restore(f);
        });
    }
}
