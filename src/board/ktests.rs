//! In-kernel tests of discovery: what the kernel found on the board it runs on.

use crate::arch::{self, mmu};
use crate::board::Platform;
use crate::board::{IntcDesc, Source, TimerDesc};
use crate::init::platform;

fn p() -> &'static Platform<'static> {
    platform().expect("no platform recorded")
}

crate::ktest! {
    fn memory_holds_the_kernel_image() {
        let (s, e) = mmu::kimage_phys_range();
        let (s, e) = (s as u64, e as u64);
        assert!(p().total_memory() >= 64 << 20, "only {} bytes of RAM", p().total_memory());
        assert!(p().memory().iter().any(|m| s >= m.base && e <= m.end()), "image {:#x}-{:#x} not in RAM", s, e);
    }
}

crate::ktest! {
    fn is_identified_from_its_description() {
        let p = p();
        let b = p.board.expect("board not identified");
        if p.machine == 0xffff_ffff {
            assert_eq!(p.source, Source::Dtb, "a DT-only machine booted without a DTB");
        }
        // QEMU's models put their devices where the board table says,
        // whether the DTB or the table described them.
        assert_eq!(p.uart, Some(b.uart));
        assert_eq!(p.intc, Some(b.intc));
        match (p.timer, b.timer) {
            (Some(TimerDesc::Generic { irq: a, .. }), TimerDesc::Generic { irq: b, .. }) => assert_eq!(a, b),
            (Some(TimerDesc::A9Twd { base: a, irq: x }), TimerDesc::A9Twd { base: b, irq: y }) => {
                assert_eq!((a, x), (b, y))
            }
            (t, _) => panic!("timer {:?} does not match board {}", t, b.name),
        }
        assert_eq!(arch::cpu_part() == 0xc09, matches!(p.intc, Some(IntcDesc::Gic { .. })) && matches!(p.timer, Some(TimerDesc::A9Twd { .. })));
    }
}

crate::ktest! {
    fn uart_at_the_discovered_address_is_a_pl011() {
        let (part, cell) = crate::console::uart_ids().expect("no console UART");
        assert_eq!(cell, 0xb105_f00d, "no PrimeCell at the discovered UART address");
        assert_eq!(part, 0x011, "PrimeCell part {:#x} is not a PL011", part);
    }
}

crate::ktest! {
    fn command_line_reached_the_kernel() {
        // This very run was started with the boot argument ktest[=...].
        let raw = core::str::from_utf8(p().cmdline_bytes).unwrap();
        assert!(crate::board::cmdline::params(raw).any(|w| w.key == "ktest"), "command line {:?}", raw);
    }
}
