//! ARM generic timer (Cortex-A7/A15): the virtual timer drives the tick.

use aarch32_cpu::register::{CntVct, Cntfrq, CntvCtl, CntvTval};

/// Counter frequency from CNTFRQ, else the DTB's, else the usual 19.2 MHz.
pub fn frequency(dt_freq: Option<u32>) -> u32 {
    match Cntfrq::read().0 {
        0 => dt_freq.unwrap_or(19_200_000),
        f => f,
    }
}

/// The virtual count.
pub fn counter() -> u64 {
    CntVct::read().0
}

/// Fires the virtual timer interrupt after `ticks` counts.
pub fn set_next_event(ticks: u32) {
    CntvTval::write(CntvTval(ticks));
    CntvCtl::write(CntvCtl::new_with_raw_value(1)); // ENABLE, not masked
}

pub fn stop() {
    CntvCtl::write(CntvCtl::new_with_raw_value(0));
}
