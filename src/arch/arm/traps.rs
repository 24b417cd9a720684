//! Exception handling: the pt_regs frame entry.S builds, fault decoding, and
//! the report a kernel fault prints before it panics.

use super::recover;
use crate::console::force_println as kprintln;
use aarch32_cpu::register::{Dfar, Dfsr, Ifar, Ifsr};

/// The registers saved at every exception, as Linux/ARM's `struct pt_regs`:
/// `uregs[18]` = r0-r12, sp, lr, pc, cpsr, ORIG_r0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PtRegs {
    pub uregs: [u32; 18],
}

pub const ARM_SP: usize = 13;
pub const ARM_LR: usize = 14;
pub const ARM_PC: usize = 15;
pub const ARM_CPSR: usize = 16;
pub const ARM_ORIG_R0: usize = 17;

const _: () = assert!(core::mem::size_of::<PtRegs>() == 72);

impl PtRegs {
    pub fn pc(&self) -> u32 {
        self.uregs[ARM_PC]
    }
    pub fn sp(&self) -> u32 {
        self.uregs[ARM_SP]
    }
    pub fn lr(&self) -> u32 {
        self.uregs[ARM_LR]
    }
    pub fn cpsr(&self) -> u32 {
        self.uregs[ARM_CPSR]
    }
    /// True when the exception came from user mode.
    pub fn user_mode(&self) -> bool {
        self.cpsr() & 0x1f == 0x10
    }
}

/// What entry.S passes as `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExceptionKind {
    Undefined = 1,
    Svc = 2,
    PrefetchAbort = 3,
    DataAbort = 4,
    Irq = 5,
    Fiq = 6,
    Reserved = 7,
}

impl ExceptionKind {
    fn from_raw(k: u32) -> Self {
        match k {
            1 => Self::Undefined,
            2 => Self::Svc,
            3 => Self::PrefetchAbort,
            4 => Self::DataAbort,
            5 => Self::Irq,
            6 => Self::Fiq,
            _ => Self::Reserved,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Undefined => "undefined instruction",
            Self::Svc => "svc from kernel mode",
            Self::PrefetchAbort => "prefetch abort",
            Self::DataAbort => "data abort",
            Self::Irq => "irq",
            Self::Fiq => "fiq",
            Self::Reserved => "reserved vector",
        }
    }
}

/// A synchronous fault, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultInfo {
    pub kind: ExceptionKind,
    pub pc: u32,
    /// DFSR or IFSR (0 for undefined instructions).
    pub fsr: u32,
    /// DFAR or IFAR (the pc for undefined instructions).
    pub far: u32,
}

impl FaultInfo {
    /// The FSR status field, FS[4] at bit 10 folded in as bit 4.
    pub fn status(&self) -> u32 {
        (self.fsr & 0xf) | ((self.fsr >> 6) & 0x10)
    }

    /// True for a write access (DFSR.WnR).
    pub fn is_write(&self) -> bool {
        self.kind == ExceptionKind::DataAbort && self.fsr & (1 << 11) != 0
    }

    pub fn is_permission_fault(&self) -> bool {
        matches!(self.status(), 0x0d | 0x0f)
    }

    pub fn is_translation_fault(&self) -> bool {
        matches!(self.status(), 0x05 | 0x07)
    }
}

/// The short-descriptor fault status names (ARM ARM B4.1.52, table B3-23).
pub fn fsr_name(status: u32) -> &'static str {
    match status {
        0x01 => "alignment fault",
        0x02 => "debug event",
        0x03 => "access flag fault (section)",
        0x04 => "instruction cache maintenance fault",
        0x05 => "translation fault (section)",
        0x06 => "access flag fault (page)",
        0x07 => "translation fault (page)",
        0x08 => "synchronous external abort",
        0x09 => "domain fault (section)",
        0x0b => "domain fault (page)",
        0x0c => "external abort on translation walk (L1)",
        0x0d => "permission fault (section)",
        0x0e => "external abort on translation walk (L2)",
        0x0f => "permission fault (page)",
        0x10 => "TLB conflict abort",
        0x16 => "asynchronous external abort",
        0x18 => "asynchronous parity error",
        0x19 => "synchronous parity error",
        0x1c => "parity error on translation walk (L1)",
        0x1e => "parity error on translation walk (L2)",
        _ => "unknown fault status",
    }
}

fn fault_info(kind: ExceptionKind, regs: &PtRegs) -> FaultInfo {
    match kind {
        ExceptionKind::DataAbort => {
            FaultInfo { kind, pc: regs.pc(), fsr: Dfsr::read().raw_value(), far: Dfar::read().0 }
        }
        ExceptionKind::PrefetchAbort => {
            FaultInfo { kind, pc: regs.pc(), fsr: Ifsr::read().raw_value(), far: Ifar::read().0 }
        }
        _ => FaultInfo { kind, pc: regs.pc(), fsr: 0, far: regs.pc() },
    }
}

/// The semihosting trap `svc 0x123456` (ARM state).
const SEMIHOSTING_SVC: u32 = 0xef12_3456;

/// Called by entry.S for every exception except system calls from user mode.
#[no_mangle]
extern "C" fn handle_exception(regs: &mut PtRegs, kind: u32) {
    let kind = ExceptionKind::from_raw(kind);
    match kind {
        ExceptionKind::Irq => {
            crate::irq::handle_irq(regs);
            crate::ktest::after_irq();
            let ti = crate::process::thread_info::current_thread_info();
            if !ti.task.is_null() {
                if regs.user_mode() {
                    ret_to_user_work(regs, false);
                } else if ti.need_resched()
                    && ti.preempt_count.load(core::sync::atomic::Ordering::Relaxed) == 0
                {
                    crate::sched::preempt_schedule_irq();
                }
            }
        }
        ExceptionKind::Svc => {
            // SAFETY: pc - 4 is the svc instruction that brought us here, in
            // mapped kernel text.
            let insn = unsafe { core::ptr::read_volatile((regs.pc() - 4) as *const u32) };
            if insn == SEMIHOSTING_SVC {
                // No debugger answered: semihosting is not available here.
                super::semihosting::mark_unavailable();
                regs.uregs[0] = u32::MAX;
            } else {
                die(regs, kind, None);
            }
        }
        ExceptionKind::Undefined | ExceptionKind::PrefetchAbort | ExceptionKind::DataAbort => {
            let user = regs.user_mode();
            handle_fault(regs, kind);
            // Back to user mode: the work a fault may have made (a signal
            // for a handler, a reschedule), as after any exception.
            if user {
                ret_to_user_work(regs, false);
            }
        }
        ExceptionKind::Fiq | ExceptionKind::Reserved => die(regs, kind, None),
    }
}

/// An undefined instruction or an abort: the VFP unit's first use, a page
/// to fill or copy, a user fault (a signal), a get_user/put_user fixup, or
/// a kernel bug.
fn handle_fault(regs: &mut PtRegs, kind: ExceptionKind) {
    if kind == ExceptionKind::Undefined && regs.user_mode() {
        // entry.S takes 4 from lr_und; in Thumb state lr_und is the
        // instruction + 2, so the instruction is 2 further on.
        if regs.cpsr() & PSR_T_BIT != 0 {
            regs.uregs[ARM_PC] = regs.uregs[ARM_PC].wrapping_add(2);
        }
        match super::vfp::do_vfp_undef(regs) {
            super::vfp::UndefOutcome::Retry => return,
            super::vfp::UndefOutcome::Signal(sig) => return vfp_fault(regs, sig),
            super::vfp::UndefOutcome::NotVfp => {}
        }
    }
    let info = fault_info(kind, regs);
    // A page never touched, or a write to a copy-on-write page
    // (from user mode, or from the kernel's get_user/put_user):
    // fill or copy it and retry the access.
    if kind == ExceptionKind::DataAbort
        && (info.is_translation_fault() || (info.is_write() && info.is_permission_fault()))
        && info.far < super::mmu::TASK_SIZE
        && !crate::process::thread_info::current_thread_info().task.is_null()
        && crate::process::exec::do_page_fault(info.far, info.is_write())
    {
        return;
    }
    if regs.user_mode() {
        return user_fault(regs, kind, info);
    }
    // get_user/put_user on a bad user address: resume at the fixup.
    if kind == ExceptionKind::DataAbort {
        if let Some(fixup) = super::uaccess::search_exception_tables(regs.pc()) {
            regs.uregs[ARM_PC] = fixup;
            return;
        }
    }
    recover::fault(info);
    die(regs, kind, Some(info));
}

/// System calls from user mode (entry.S, `svc #0`).
#[no_mangle]
extern "C" fn handle_syscall(regs: &mut PtRegs) {
    crate::arch::local_irq_enable();
    // (After sigreturn the registers are the interrupted code's, not a
    // system call's: nothing there to restart.)
    let syscall = crate::syscall::dispatch(regs);
    ret_to_user_work(regs, syscall);
}

/// Before returning to user mode: reschedule if asked, act on signals
/// (each pending one that is not blocked gets its action; `syscall` says
/// the registers hold a system call's result, which may be restarted).
#[inline(always)]
fn ret_to_user_work(regs: &mut PtRegs, syscall: bool) {
    use crate::process::thread_info::{TIF_NEED_RESCHED, TIF_SIGPENDING};
    // The common case, one load and a test (Linux's _TIF_WORK_MASK).
    let ti = crate::process::thread_info::current_thread_info();
    if ti.flags.load(core::sync::atomic::Ordering::Relaxed) & (1 << TIF_NEED_RESCHED | 1 << TIF_SIGPENDING) != 0 {
        do_work_pending(regs, syscall);
    }
}

/// ret_to_user_work's loop, when there is work (`do_work_pending`).
#[inline(never)]
fn do_work_pending(regs: &mut PtRegs, mut syscall: bool) {
    let ti = crate::process::thread_info::current_thread_info();
    loop {
        if ti.need_resched() {
            crate::sched::schedule();
        }
        if !ti.test_flag(crate::process::thread_info::TIF_SIGPENDING) {
            break;
        }
        crate::process::signal::do_signal(regs, syscall);
        syscall = false;
    }
}

/// A fault in user mode: the task's handler for `sig` runs if it has one
/// that is not blocked (force_sig_fault; it may fix what faulted and
/// return, and the instruction runs again); otherwise the process ends,
/// killed by `sig` (its parent sees that in wait4), after a line saying
/// why, naming it (comm[pid]) and the pc. Only that process: the kernel
/// goes on.
fn kill_user(regs: &PtRegs, sig: i32, code: i32, addr: u32, why: core::fmt::Arguments<'_>) {
    if crate::process::signal::force_sig_fault(sig, code, addr) {
        return;
    }
    let t = crate::current!();
    let name = match sig {
        SIGILL => "SIGILL",
        SIGFPE => "SIGFPE",
        SIGBUS => "SIGBUS",
        _ => "SIGSEGV",
    };
    kprintln!("{}[{}]: {} at pc {:#010x}, killed by {}", t.comm(), t.pid(), why, regs.pc(), name);
    crate::process::exit::do_group_exit_status(sig)
}

use crate::process::resources::{SIGBUS, SIGFPE, SIGILL, SIGSEGV};
use crate::process::siginfo::{BUS_ADRALN, ILL_ILLOPC};
/// FPE_FLTINV: an invalid floating-point operation.
const FPE_FLTINV: i32 = 7;
/// The FSR status of an alignment fault.
const FSR_ALIGNMENT: u32 = 0b00001;

/// SIGSEGV for aborts (SEGV_MAPERR outside every region, SEGV_ACCERR
/// inside one) and SIGBUS for alignment faults, with the address; SIGILL
/// for undefined instructions, with the pc.
fn user_fault(regs: &mut PtRegs, kind: ExceptionKind, f: FaultInfo) {
    let (sig, code, addr) = if kind == ExceptionKind::Undefined {
        (SIGILL, ILL_ILLOPC, regs.pc())
    } else if f.status() == FSR_ALIGNMENT {
        (SIGBUS, BUS_ADRALN, f.far)
    } else {
        (SIGSEGV, crate::process::mmap::segv_code(f.far), f.far)
    };
    let status = if f.fsr == 0 { "-" } else { fsr_name(f.status()) };
    kill_user(regs, sig, code, addr, format_args!("unhandled {}, address {:#010x} ({})", kind.name(), f.far, status))
}

/// CPSR T bit: Thumb state.
pub const PSR_T_BIT: u32 = 1 << 5;

/// A VFP instruction the enabled unit rejected (a bounce that needs
/// support code, or an encoding it does not have): the task gets `sig`.
fn vfp_fault(regs: &mut PtRegs, sig: i32) {
    let code = if sig == SIGFPE { FPE_FLTINV } else { ILL_ILLOPC };
    kill_user(regs, sig, code, regs.pc(), format_args!("VFP instruction rejected by the unit"))
}

/// Prints everything known about an exception the kernel cannot handle, then panics.
pub fn die(regs: &PtRegs, kind: ExceptionKind, info: Option<FaultInfo>) -> ! {
    kprintln!("");
    kprintln!(
        "Internal error: unhandled {} in {} mode",
        kind.name(),
        if regs.user_mode() { "user" } else { "kernel" }
    );
    if let Some(f) = info {
        match kind {
            ExceptionKind::DataAbort => kprintln!(
                "  DFSR {:#010x}: {} on {} at DFAR {:#010x}",
                f.fsr,
                fsr_name(f.status()),
                if f.is_write() { "write" } else { "read" },
                f.far
            ),
            ExceptionKind::PrefetchAbort => {
                kprintln!("  IFSR {:#010x}: {} at IFAR {:#010x}", f.fsr, fsr_name(f.status()), f.far)
            }
            _ => {
                // SAFETY: the faulting pc is in mapped kernel text (it was just executed).
                let insn = unsafe { core::ptr::read_volatile(f.pc as *const u32) };
                kprintln!("  instruction {:#010x} at {:#010x}", insn, f.pc)
            }
        }
    }
    show_regs(regs);
    panic!("Fatal exception: {} at pc {:#010x}", kind.name(), regs.pc());
}

/// The register dump of a pt_regs frame.
pub fn show_regs(regs: &PtRegs) {
    let r = &regs.uregs;
    kprintln!("  pc : [<{:08x}>]    lr : [<{:08x}>]    psr: {:08x}", r[ARM_PC], r[ARM_LR], r[ARM_CPSR]);
    kprintln!("  sp : {:08x}  ip : {:08x}  fp : {:08x}", r[ARM_SP], r[12], r[11]);
    kprintln!("  r10: {:08x}  r9 : {:08x}  r8 : {:08x}", r[10], r[9], r[8]);
    kprintln!("  r7 : {:08x}  r6 : {:08x}  r5 : {:08x}  r4 : {:08x}", r[7], r[6], r[5], r[4]);
    kprintln!("  r3 : {:08x}  r2 : {:08x}  r1 : {:08x}  r0 : {:08x}", r[3], r[2], r[1], r[0]);
    let mode = match r[ARM_CPSR] & 0x1f {
        0x10 => "USR",
        0x11 => "FIQ",
        0x12 => "IRQ",
        0x13 => "SVC",
        0x17 => "ABT",
        0x1a => "HYP",
        0x1b => "UND",
        0x1f => "SYS",
        _ => "???",
    };
    kprintln!(
        "  Flags: {}{}{}{}  IRQs {}  FIQs {}  Mode {}  ISA {}",
        if r[ARM_CPSR] & (1 << 31) != 0 { 'N' } else { 'n' },
        if r[ARM_CPSR] & (1 << 30) != 0 { 'Z' } else { 'z' },
        if r[ARM_CPSR] & (1 << 29) != 0 { 'C' } else { 'c' },
        if r[ARM_CPSR] & (1 << 28) != 0 { 'V' } else { 'v' },
        if r[ARM_CPSR] & (1 << 7) != 0 { "off" } else { "on" },
        if r[ARM_CPSR] & (1 << 6) != 0 { "off" } else { "on" },
        mode,
        if r[ARM_CPSR] & PSR_T_BIT != 0 { "Thumb" } else { "ARM" }
    );
}

crate::ktest! {
    fn undefined_instruction_is_taken_and_reported() {
        let r = recover::try_catch(|| {
            // SAFETY: deliberately undefined (permanently UDF encoding); the
            // fault is caught by try_catch.
            unsafe { core::arch::asm!(".inst 0xe7f000f0") };
        });
        let f = r.expect_err("udf returned normally").fault.expect("no fault recorded");
        assert_eq!(f.kind, ExceptionKind::Undefined);
        // SAFETY: reading kernel text at the faulting pc.
        assert_eq!(unsafe { core::ptr::read_volatile(f.pc as *const u32) }, 0xe7f0_00f0);
    }
}

crate::ktest! {
    fn data_abort_on_unmapped_address_is_taken_and_decoded() {
        let bad = 0x7ff0_0010 as *const u32;
        let r = recover::try_catch(|| {
            // SAFETY: deliberately unmapped; the fault is caught.
            let _ = unsafe { core::ptr::read_volatile(bad) };
        });
        let f = r.expect_err("read of an unmapped address succeeded").fault.unwrap();
        assert_eq!(f.kind, ExceptionKind::DataAbort);
        assert_eq!(f.far, bad as u32);
        assert!(f.is_translation_fault(), "status {:#x}", f.status());
        assert!(!f.is_write());
    }
}

crate::ktest! {
    fn kernel_keeps_running_after_a_caught_fault() {
        for _ in 0..3 {
            // SAFETY: deliberately undefined; caught by try_catch.
            let r = recover::try_catch(|| unsafe { core::arch::asm!(".inst 0xe7f000f0") });
            assert!(r.is_err());
        }
        assert!(recover::try_catch(|| {}).is_ok());
    }
}

crate::ktest! {
    fn memcpy_copies_every_length_and_alignment() {
        let mut src = [0u8; 96];
        for (i, b) in src.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(7).wrapping_add(3);
        }
        for so in 0..4 {
            for d in 0..4 {
                for len in 0..80 {
                    let mut dst = [0xeeu8; 96];
                    // SAFETY: both ranges lie inside the arrays.
                    unsafe {
                        core::ptr::copy_nonoverlapping(
                            core::hint::black_box(src.as_ptr().add(so)),
                            core::hint::black_box(dst.as_mut_ptr().add(d)),
                            core::hint::black_box(len),
                        )
                    };
                    assert_eq!(&dst[d..d + len], &src[so..so + len], "src+{} dst+{} len {}", so, d, len);
                    assert!(dst[..d].iter().all(|&b| b == 0xee) && dst[d + len..].iter().all(|&b| b == 0xee), "wrote outside: src+{} dst+{} len {}", so, d, len);
                }
            }
        }
    }
}

crate::ktest! {
    fn memset_fills_every_length_and_alignment() {
        for d in 0..4 {
            for len in 0..80 {
                let mut buf = [0x11u8; 96];
                // SAFETY: inside the array.
                unsafe {
                    core::ptr::write_bytes(core::hint::black_box(buf.as_mut_ptr().add(d)), core::hint::black_box(0xa7), core::hint::black_box(len))
                };
                assert!(buf[d..d + len].iter().all(|&b| b == 0xa7), "dst+{} len {}", d, len);
                assert!(buf[..d].iter().chain(&buf[d + len..]).all(|&b| b == 0x11), "outside: dst+{} len {}", d, len);
                let mut z = [0x11u8; 96];
                // SAFETY: inside the array (a zero fill: __aeabi_memclr).
                unsafe { core::ptr::write_bytes(core::hint::black_box(z.as_mut_ptr().add(d)), 0, core::hint::black_box(len)) };
                assert!(z[d..d + len].iter().all(|&b| b == 0) && z[d + len..].iter().all(|&b| b == 0x11));
            }
        }
    }
}
