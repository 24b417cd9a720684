//! The panic handler: inside a recovery point (a test) the panic fails that
//! test; otherwise the kernel says why and stops, leaving QEMU with status 1
//! when semihosting is there.

use crate::arch::recover::{self, Reason};
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::arch::local_irq_disable();
    if recover::armed() {
        match info.location() {
            Some(l) => crate::console::_force_print(format_args!(
                "# panic at {}:{}: {}\n",
                l.file(),
                l.line(),
                info.message()
            )),
            None => crate::console::_force_print(format_args!("# panic: {}\n", info.message())),
        }
        recover::take(Reason::Panic, None);
    }
    if PANICKING.swap(true, Ordering::SeqCst) {
        // Panicked while reporting a panic: do not try to print again.
        crate::arch::semihosting::exit(1);
        crate::arch::halt();
    }
    crate::console::_force_print(format_args!("Kernel panic - not syncing: {}\n", info));
    crate::console::flush();
    crate::arch::semihosting::exit(1);
    crate::arch::halt()
}
