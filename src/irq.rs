//! Interrupt handling: one controller per machine (GICv2 or BCM2836 local),
//! a handler table, and per-interrupt counts (as /proc/interrupts).

use crate::arch::PtRegs;
use crate::board::IntcDesc;
use crate::drivers::bcm2836_intc::Bcm2836Intc;
use crate::drivers::gic::{Gic, SPURIOUS};
use crate::errno::Errno;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

pub const NR_IRQS: usize = 1024;

enum Chip {
    Gic(Gic),
    Bcm2836(Bcm2836Intc),
}

static CHIP: spin::Once<Chip> = spin::Once::new();
static HANDLERS: [AtomicUsize; NR_IRQS] = [const { AtomicUsize::new(0) }; NR_IRQS];
static COUNTS: [AtomicU32; NR_IRQS] = [const { AtomicU32::new(0) }; NR_IRQS];
static SPURIOUS_COUNT: AtomicU32 = AtomicU32::new(0);

/// Maps and initialises the interrupt controller.
pub fn init(desc: IntcDesc) -> Result<&'static str, Errno> {
    let chip = match desc {
        IntcDesc::Gic { dist, cpu } => {
            let d = crate::arch::mmu::ioremap(dist, 0x1000).ok_or(Errno::ENOMEM)?;
            let c = crate::arch::mmu::ioremap(cpu, 0x1000).ok_or(Errno::ENOMEM)?;
            // SAFETY: the GIC's two register blocks, just mapped; nobody else drives them.
            let g = unsafe { Gic::new(d, c) };
            g.init();
            Chip::Gic(g)
        }
        IntcDesc::Bcm2836 { base } => {
            let b = crate::arch::mmu::ioremap(base, 0x100).ok_or(Errno::ENOMEM)?;
            // SAFETY: the local controller's registers, just mapped.
            let l = unsafe { Bcm2836Intc::new(b) };
            l.init();
            Chip::Bcm2836(l)
        }
    };
    let name = match &chip {
        Chip::Gic(_) => "GICv2",
        Chip::Bcm2836(_) => "BCM2836 local",
    };
    CHIP.call_once(|| chip);
    Ok(name)
}

/// Installs `handler` for `irq` and unmasks it.
pub fn request_irq(irq: u32, handler: fn(u32)) -> Result<(), Errno> {
    let chip = CHIP.get().ok_or(Errno::ENODEV)?;
    let slot = HANDLERS.get(irq as usize).ok_or(Errno::EINVAL)?;
    if slot.compare_exchange(0, handler as usize, Ordering::AcqRel, Ordering::Acquire).is_err() {
        return Err(Errno::EBUSY);
    }
    match chip {
        Chip::Gic(g) => {
            if irq >= g.nr_irqs() {
                slot.store(0, Ordering::Release);
                return Err(Errno::EINVAL);
            }
            g.enable(irq)
        }
        Chip::Bcm2836(l) => l.enable(irq),
    }
    Ok(())
}

fn dispatch(irq: u32) {
    COUNTS[irq as usize].fetch_add(1, Ordering::Relaxed);
    let h = HANDLERS[irq as usize].load(Ordering::Acquire);
    if h == 0 {
        SPURIOUS_COUNT.fetch_add(1, Ordering::Relaxed);
        return;
    }
    // SAFETY: only request_irq stores into HANDLERS, and only `fn(u32)` values.
    let f: fn(u32) = unsafe { core::mem::transmute(h) };
    f(irq);
}

/// Per CPU: the interrupt being handled came from user mode (Linux's
/// `user_mode(get_irq_regs())`, what the tick charges time by).
static IRQ_FROM_USER: [AtomicBool; 4] = [const { AtomicBool::new(false) }; 4];

/// Whether the interrupt this CPU handles now interrupted user mode.
pub fn irq_from_user() -> bool {
    IRQ_FROM_USER[crate::arch::smp_processor_id() & 3].load(Ordering::Relaxed)
}

/// Called from the IRQ vector with IRQs masked.
pub fn handle_irq(regs: &mut PtRegs) {
    IRQ_FROM_USER[crate::arch::smp_processor_id() & 3].store(regs.user_mode(), Ordering::Relaxed);
    match CHIP.get() {
        Some(Chip::Gic(g)) => loop {
            let (iar, irq) = g.ack();
            if irq >= SPURIOUS {
                break;
            }
            dispatch(irq);
            g.eoi(iar);
        },
        Some(Chip::Bcm2836(l)) => {
            let pending = l.pending();
            for irq in 0..4 {
                if pending & (1 << irq) != 0 {
                    dispatch(irq);
                }
            }
        }
        None => {
            SPURIOUS_COUNT.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// How many times `irq` was taken.
pub fn count(irq: u32) -> u32 {
    COUNTS.get(irq as usize).map_or(0, |c| c.load(Ordering::Relaxed))
}

crate::ktest! {
    fn request_irq_refuses_bad_numbers_and_doubles() {
        fn nop(_: u32) {}
        assert_eq!(request_irq(NR_IRQS as u32, nop), Err(Errno::EINVAL));
        let tick = crate::time::tick_irq().expect("no tick irq");
        assert_eq!(request_irq(tick, nop), Err(Errno::EBUSY));
    }
}
