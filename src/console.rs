//! The console: printk-style output to the UART and to a log buffer
//! (`__log_buf`, readable by tests and later by `dmesg`), polled input, and
//! the `log` crate's backend with a level from `loglevel=`.

use crate::drivers::pl011::Pl011;
use crate::sync::SpinLockIrq;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

const LOG_BUF_LEN: usize = 16 * 1024;
const RX_BUF_LEN: usize = 256;

struct Console {
    uart: Option<Pl011>,
    log_buf: [u8; LOG_BUF_LEN],
    /// Total bytes ever logged; the buffer holds the last LOG_BUF_LEN.
    log_len: usize,
    rx: [u8; RX_BUF_LEN],
    rx_head: usize,
    rx_tail: usize,
}

static CONSOLE: SpinLockIrq<Console> = SpinLockIrq::new(Console {
    uart: None,
    log_buf: [0; LOG_BUF_LEN],
    log_len: 0,
    rx: [0; RX_BUF_LEN],
    rx_head: 0,
    rx_tail: 0,
});

/// Bytes written to the UART since boot.
static TX_BYTES: AtomicUsize = AtomicUsize::new(0);

impl Console {
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.log_buf[self.log_len % LOG_BUF_LEN] = b;
            self.log_len += 1;
            if let Some(u) = &self.uart {
                if b == b'\n' {
                    u.putc(b'\r');
                }
                u.putc(b);
                TX_BYTES.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

struct Writer<'a>(&'a mut Console);

impl Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.put(s.as_bytes());
        Ok(())
    }
}

/// Brings the console up on the PL011 mapped at `va`.
///
/// # Safety
/// `va` must map a PL011's registers for the rest of the kernel's life.
pub unsafe fn init(va: usize, clock_hz: u32) {
    // SAFETY: per the caller.
    let uart = unsafe { Pl011::new(va) };
    uart.init(clock_hz);
    CONSOLE.lock().uart = Some(uart);
}

pub fn _print(args: fmt::Arguments) {
    let mut c = CONSOLE.lock();
    let _ = Writer(&mut c).write_fmt(args);
}

/// Writes raw bytes (a program's `write`) to the UART and the log. The
/// lock, which masks IRQs, is taken per 32 bytes: on a real 115200-baud
/// line that is about 3 ms, whatever the length.
pub fn write_bytes(bytes: &[u8]) {
    for piece in bytes.chunks(32) {
        CONSOLE.lock().put(piece);
    }
}

/// Prints even if the lock is held by the code that failed (panic, oops).
pub fn _force_print(args: fmt::Arguments) {
    // SAFETY: only the fatal paths call this; whoever held the lock was
    // interrupted for good (or is this very code, which is not inside it).
    unsafe { CONSOLE.force_unlock() };
    _print(args);
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::console::_print(format_args!($($arg)*)));
}

#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::console::_print(format_args!("{}\n", format_args!($($arg)*))));
}

/// `println!` for the fatal paths; see [`_force_print`].
macro_rules! force_println {
    ($($arg:tt)*) => ($crate::console::_force_print(format_args!("{}\n", format_args!($($arg)*))));
}
pub(crate) use force_println;

/// The SysRq prefix: Ctrl-O (QEMU's -nographic console passes it through;
/// Ctrl-A is QEMU's own escape). The key after it picks a `sysrq` command.
pub const SYSRQ_PREFIX: u8 = 0x0f;
static SYSRQ_ARMED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Moves received bytes from the UART into the input buffer (from the
/// tick), running SysRq commands on the way, outside the console lock.
pub fn poll_input() {
    let mut keys = [0u8; 16];
    let mut nkeys = 0;
    {
        let mut c = CONSOLE.lock();
        while let Some(b) = c.uart.as_ref().and_then(|u| u.getc()) {
            if SYSRQ_ARMED.swap(false, Ordering::Relaxed) {
                if nkeys < keys.len() {
                    keys[nkeys] = b;
                    nkeys += 1;
                }
                continue;
            }
            if b == SYSRQ_PREFIX {
                SYSRQ_ARMED.store(true, Ordering::Relaxed);
                continue;
            }
            let next = (c.rx_head + 1) % RX_BUF_LEN;
            if next != c.rx_tail {
                let h = c.rx_head;
                c.rx[h] = b;
                c.rx_head = next;
            }
        }
    }
    for &k in &keys[..nkeys] {
        crate::sysrq::handle(k);
    }
    if input_available() {
        INPUT_WAIT.wake_up();
    }
}

/// Readers of the console sleep here until the tick moves input in.
pub static INPUT_WAIT: crate::task::wait::WaitQueueHead = crate::task::wait::WaitQueueHead::new();

fn input_available() -> bool {
    let c = CONSOLE.lock();
    c.rx_head != c.rx_tail
}

/// Reads a line from the console for a task (the tty's canonical mode, as
/// far as it goes here): echoes what is typed, handles backspace, returns
/// at a newline (included) or when `max` bytes are in. Sleeps while there
/// is no input; a pending signal ends the wait (None: EINTR).
pub fn read_line(max: usize, out: &mut alloc::vec::Vec<u8>) -> Option<()> {
    loop {
        INPUT_WAIT.wait_event(|| input_available() || crate::process::signal::signal_pending());
        if !input_available() && crate::process::signal::signal_pending() {
            return None;
        }
        while let Some(b) = getc() {
            match b {
                b'\r' | b'\n' => {
                    crate::print!("\n");
                    out.push(b'\n');
                    return Some(());
                }
                0x7f | 0x08 => {
                    if out.pop().is_some() {
                        crate::print!("\x08 \x08");
                    }
                }
                _ => {
                    out.push(b);
                    crate::print!("{}", b as char);
                    if out.len() >= max {
                        return Some(());
                    }
                }
            }
        }
    }
}

/// The next input byte, if any.
pub fn getc() -> Option<u8> {
    let mut c = CONSOLE.lock();
    if c.rx_tail == c.rx_head {
        if let Some(b) = c.uart.as_ref().and_then(|u| u.getc()) {
            return Some(b);
        }
        return None;
    }
    let b = c.rx[c.rx_tail];
    c.rx_tail = (c.rx_tail + 1) % RX_BUF_LEN;
    Some(b)
}

/// Waits until the UART has sent everything.
pub fn flush() {
    if let Some(u) = &CONSOLE.lock().uart {
        u.flush();
    }
}

/// True when a UART is attached.
pub fn has_uart() -> bool {
    CONSOLE.lock().uart.is_some()
}

/// Copies the last `out.len()` bytes of the log (or fewer) into `out`.
pub fn log_tail(out: &mut [u8]) -> usize {
    let c = CONSOLE.lock();
    let n = out.len().min(c.log_len).min(LOG_BUF_LEN);
    for (i, o) in out[..n].iter_mut().enumerate() {
        *o = c.log_buf[(c.log_len - n + i) % LOG_BUF_LEN];
    }
    n
}

/// The console UART's PrimeCell identification, if a UART is attached.
pub fn uart_ids() -> Option<(u32, u32)> {
    CONSOLE.lock().uart.as_ref().map(|u| u.ids())
}

pub fn tx_bytes() -> usize {
    TX_BYTES.load(Ordering::Relaxed)
}

// --- the `log` crate's backend -------------------------------------------

/// Linux console log level: messages below it are printed (default 7: info).
static LOGLEVEL: AtomicU8 = AtomicU8::new(7);

struct KernelLogger;

fn linux_level(l: log::Level) -> u8 {
    match l {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug => 7,
        log::Level::Trace => 8,
    }
}

impl log::Log for KernelLogger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        linux_level(m.level()) < LOGLEVEL.load(Ordering::Relaxed)
    }

    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let us = crate::time::uptime_us();
            let tag = match r.level() {
                log::Level::Error => "ERROR: ",
                log::Level::Warn => "WARN: ",
                _ => "",
            };
            _print(format_args!("[{:5}.{:06}] {}{}\n", us / 1_000_000, us % 1_000_000, tag, r.args()));
        }
    }

    fn flush(&self) {}
}

static LOGGER: KernelLogger = KernelLogger;

/// Sets the console log level (`loglevel=`); returns the old one.
pub fn set_loglevel(level: u8) -> u8 {
    LOGLEVEL.swap(level, Ordering::Relaxed)
}

/// Installs the logger with Linux's `loglevel=` semantics (messages with a
/// level number below it are shown; 8 shows everything).
pub fn init_log(loglevel: u8) {
    LOGLEVEL.store(loglevel, Ordering::Relaxed);
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
}

crate::ktest! {
    fn printed_text_reaches_the_log_and_the_uart() {
        assert!(has_uart());
        let before = tx_bytes();
        crate::println!("# console self-check 0x5eed");
        assert!(tx_bytes() >= before + 27, "UART did not take the bytes");
        let mut tail = [0u8; 64];
        let n = log_tail(&mut tail);
        let text = core::str::from_utf8(&tail[..n]).unwrap_or("");
        assert!(text.ends_with("# console self-check 0x5eed\n"), "log tail: {:?}", text);
        flush();
    }
}

crate::ktest! {
    fn log_level_filters_messages() {
        use log::Log;
        let old = LOGLEVEL.load(Ordering::Relaxed);
        LOGLEVEL.store(4, Ordering::Relaxed);
        let err = log::Metadata::builder().level(log::Level::Error).build();
        let info = log::Metadata::builder().level(log::Level::Info).build();
        let (e, i) = (LOGGER.enabled(&err), LOGGER.enabled(&info));
        LOGLEVEL.store(old, Ordering::Relaxed);
        assert!(e && !i);
    }
}
