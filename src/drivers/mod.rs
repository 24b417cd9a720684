//! Device drivers: console UART, interrupt controllers, timers, PSCI.
pub mod arch_timer;
pub mod bcm2836_intc;
pub mod gic;
pub mod pl011;
pub mod psci;
pub mod twd;
