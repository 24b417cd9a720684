//! VFP and Advanced SIMD (NEON) for user tasks, switched lazily as Linux/ARM
//! does it.
//!
//! The registers (D0-D31 or D0-D15, FPSCR) belong to one task at a time: the
//! per-CPU owner, `vfp_current_hw_state` (a thread_info pointer). FPEXC.EN
//! is on only while the owner runs. Any other task's first VFP or NEON
//! instruction is undefined; the undefined-instruction handler recognises
//! it (`is_vfp_insn`), saves the owner's registers into the owner's
//! task_struct, loads the current task's, makes it the owner, sets FPEXC.EN
//! and retries the instruction. `__switch_to` (entry.S) adds six
//! instructions: if the task leaving is the owner it clears FPEXC.EN; if the
//! task coming in is the owner it sets it again (its registers are still in
//! the hardware). Nothing is saved or loaded at a context switch.
//!
//! Where the state lives: in `task_struct` (its last field), not in
//! thread_info as Linux keeps `union vfp_state`. thread_info shares the 8 KiB
//! block with the kernel stack, and 264 bytes there would be 264 bytes less
//! stack for every task, kernel threads included, which never use VFP; the
//! task_struct is a slab object that can grow freely. Being last, the state
//! is copied at fork only when the parent has used VFP (`vfp_used`), so a
//! fork of a program that never touched it copies nothing more.
//!
//! The kernel itself never uses VFP: the target (`armv7a-none-eabi`) is
//! soft-float, and the only VFP instructions in the image are in this file's
//! assembly and the FPEXC writes in `__switch_to`.

use super::traps::{PtRegs, ARM_CPSR, ARM_PC};
use crate::process::task::TaskStruct;
use crate::process::thread_info::ThreadInfo;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// FPEXC bits.
pub const FPEXC_EX: u32 = 1 << 31;
pub const FPEXC_EN: u32 = 1 << 30;
pub const FPEXC_DEX: u32 = 1 << 29;

/// FPSID.SW: the "VFP" is a software emulation (no hardware).
const FPSID_SW: u32 = 1 << 23;

/// One task's VFP registers, as `vfp_save_hw` writes them.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub struct VfpState {
    /// D0-D31 (D16-D31 unused on a VFPv3-D16 unit).
    pub d: [u64; 32],
    pub fpscr: u32,
    /// FPEXC as the task last had it (informational: always EN when live).
    pub fpexc: u32,
}

const _: () = assert!(core::mem::size_of::<VfpState>() == 264);

impl VfpState {
    /// What a new program starts with (exec): zeroed registers, FPSCR 0
    /// (round to nearest, no traps, IEEE mode), as Linux does.
    pub const INIT: VfpState = VfpState { d: [0; 32], fpscr: 0, fpexc: FPEXC_EN };
}

/// The task (thread_info) whose registers the VFP unit holds, or null.
/// Only CPU 0 runs for now; with secondaries this becomes one slot per CPU
/// (and `__switch_to` indexes it by `ti->cpu`).
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static vfp_current_hw_state: AtomicPtr<ThreadInfo> = AtomicPtr::new(core::ptr::null_mut());

static PRESENT: AtomicBool = AtomicBool::new(false);
static D32: AtomicBool = AtomicBool::new(false);

extern "C" {
    fn vfp_fpexc_read() -> u32;
    fn vfp_fpexc_write(v: u32);
    fn vfp_fpsid_read() -> u32;
    fn vfp_mvfr0_read() -> u32;
    fn vfp_mvfr1_read() -> u32;
    /// Stores D0-D15 (and D16-D31 if `d32`) and FPSCR at `s`. FPEXC.EN must be set.
    fn vfp_save_hw(s: *mut VfpState, d32: u32);
    /// Loads them from `s`. FPEXC.EN must be set.
    fn vfp_load_hw(s: *const VfpState, d32: u32);
}

// The only VFP instructions the kernel contains (and the FPEXC writes of
// __switch_to in entry.S). `.fpu neon` lets the assembler accept them; it
// changes nothing in what the compiler generates.
core::arch::global_asm!(
    r#"
    .arm
    .fpu neon
    .text
    .global vfp_fpexc_read
vfp_fpexc_read:
    vmrs    r0, fpexc
    bx      lr
    .global vfp_fpexc_write
vfp_fpexc_write:
    vmsr    fpexc, r0
    bx      lr
    .global vfp_fpsid_read
vfp_fpsid_read:
    vmrs    r0, fpsid
    bx      lr
    .global vfp_mvfr0_read
vfp_mvfr0_read:
    vmrs    r0, mvfr0
    bx      lr
    .global vfp_mvfr1_read
vfp_mvfr1_read:
    vmrs    r0, mvfr1
    bx      lr
    .global vfp_save_hw
vfp_save_hw:
    vstmia  r0!, {{d0-d15}}
    cmp     r1, #0
    vstmiane r0!, {{d16-d31}}
    addeq   r0, r0, #128
    vmrs    r2, fpscr
    str     r2, [r0]
    bx      lr
    .global vfp_load_hw
vfp_load_hw:
    vldmia  r0!, {{d0-d15}}
    cmp     r1, #0
    vldmiane r0!, {{d16-d31}}
    addeq   r0, r0, #128
    ldr     r2, [r0]
    vmsr    fpscr, r2
    bx      lr
"#
);

/// True once `vfp_init` found a VFP unit (and left CP10/CP11 accessible).
pub fn vfp_present() -> bool {
    PRESENT.load(Ordering::Relaxed)
}

fn cpacr_read() -> u32 {
    let v: u32;
    // SAFETY: reading CPACR has no side effects.
    unsafe {
        core::arch::asm!("mrc p15, 0, {0}, c1, c0, 2", out(reg) v, options(nomem, nostack, preserves_flags))
    };
    v
}

fn cpacr_write(v: u32) {
    // SAFETY: CPACR only grants or denies coprocessor access; the ISB makes
    // the change visible to the following instructions.
    unsafe {
        core::arch::asm!("mcr p15, 0, {0}, c1, c0, 2", "isb", in(reg) v, options(nostack, preserves_flags))
    };
}

/// CPACR cp10 and cp11: full access (PL0 and PL1).
const CPACR_CP10_CP11_FULL: u32 = 0xf << 20;
/// CPACR.ASEDIS: Advanced SIMD disabled.
const CPACR_ASEDIS: u32 = 1 << 31;

/// `vfp_init`: grants access to CP10/CP11 and checks that it stuck (the
/// bits read as zero where there is no VFP unit, so nothing VFP is executed
/// unless they stuck); then identifies the unit and leaves FPEXC.EN off.
/// Without a unit, access stays denied: a VFP instruction is SIGILL.
pub fn vfp_init() {
    let old = cpacr_read();
    cpacr_write((old | CPACR_CP10_CP11_FULL) & !CPACR_ASEDIS);
    if cpacr_read() & CPACR_CP10_CP11_FULL != CPACR_CP10_CP11_FULL {
        cpacr_write(old);
        log::info!("VFP: not present (CPACR cp10/cp11 access does not stick); VFP instructions are SIGILL");
        return;
    }
    // SAFETY: cp10/cp11 are accessible; FPSID, MVFR0/1 and FPEXC can be
    // read and FPEXC written with FPEXC.EN clear.
    let (fpsid, mvfr0, mvfr1) = unsafe {
        vfp_fpexc_write(0);
        (vfp_fpsid_read(), vfp_mvfr0_read(), vfp_mvfr1_read())
    };
    if fpsid & FPSID_SW != 0 || mvfr0 & 0xf == 0 {
        cpacr_write(old);
        log::info!(
            "VFP: no hardware (FPSID {:#010x}, MVFR0 {:#010x}); VFP instructions are SIGILL",
            fpsid,
            mvfr0
        );
        return;
    }
    let d32 = mvfr0 & 0xf == 2;
    let neon = (mvfr1 >> 8) & 0xfff != 0;
    let vfpv4 = (mvfr1 >> 28) & 0xf != 0;
    D32.store(d32, Ordering::Relaxed);
    PRESENT.store(true, Ordering::Relaxed);
    log::info!(
        "VFP support v0.3: implementor {:x} architecture {} part {:x} variant {:x} rev {:x}",
        fpsid >> 24,
        (fpsid >> 16) & 0x7f,
        (fpsid >> 8) & 0xff,
        (fpsid >> 4) & 0xf,
        fpsid & 0xf
    );
    log::info!(
        "VFP: {}, {} double registers{}; lazy switching (FPEXC.EN off until a task's first VFP instruction)",
        if vfpv4 { "VFPv4" } else { "VFPv3" },
        if d32 { 32 } else { 16 },
        if neon { ", Advanced SIMD (NEON)" } else { "" }
    );
}

/// Is `insn` a VFP or Advanced SIMD instruction? ARM state: the 32-bit
/// word; Thumb state: the first halfword in bits 31:16, the second in 15:0
/// (16-bit Thumb instructions are never VFP).
pub fn is_vfp_insn(insn: u32, thumb: bool) -> bool {
    let cp10_11 = insn & 0x0e00 == 0x0a00;
    if thumb {
        // Advanced SIMD data processing: 111U 1111 ....
        if insn & 0xef00_0000 == 0xef00_0000 {
            return true;
        }
        // Advanced SIMD element or structure load/store: 1111 1001 ...0
        if insn & 0xff10_0000 == 0xf900_0000 {
            return true;
        }
        // Coprocessor instructions (LDC/STC, MCRR/MRRC, CDP, MCR/MRC) on cp10/cp11.
        insn & 0xec00_0000 == 0xec00_0000 && cp10_11
    } else {
        // Advanced SIMD data processing: 1111 001U ...
        if insn & 0xfe00_0000 == 0xf200_0000 {
            return true;
        }
        // Advanced SIMD element or structure load/store: 1111 0100 xxx0
        if insn & 0xff10_0000 == 0xf400_0000 {
            return true;
        }
        // The rest is conditional: cond 110x (LDC/STC/MCRR/MRRC) or
        // cond 1110 (CDP/MCR/MRC) on cp10/cp11; cond 1111 is not VFP and
        // cond 1111 (bits 27:24) is SVC.
        insn >> 28 != 0xf && insn & 0x0c00_0000 == 0x0c00_0000 && insn & 0x0f00_0000 != 0x0f00_0000 && cp10_11
    }
}

fn owner() -> *mut ThreadInfo {
    vfp_current_hw_state.load(Ordering::Relaxed)
}

/// Saves the owner's live registers into its task_struct. IRQs masked.
///
/// # Safety
/// `ti` is the owner: a live task's thread_info.
unsafe fn save_owner(ti: *mut ThreadInfo) {
    // SAFETY: per the contract; EN is set around the store.
    unsafe {
        let fpexc = vfp_fpexc_read();
        vfp_fpexc_write(fpexc | FPEXC_EN);
        let t = (*ti).task;
        vfp_save_hw(&mut (*t).vfpstate, D32.load(Ordering::Relaxed) as u32);
        (*t).vfpstate.fpexc = fpexc | FPEXC_EN;
        vfp_fpexc_write(fpexc);
    }
}

/// What became of an undefined instruction from user mode.
pub enum UndefOutcome {
    /// Not VFP/NEON (or no VFP unit): the usual SIGILL.
    NotVfp,
    /// The current task now owns the unit: retry the instruction.
    Retry,
    /// The unit rejected it while enabled: this signal.
    Signal(i32),
}

/// The undefined-instruction hook (`vfp_support_entry`): called with IRQs
/// masked for a user-mode undefined instruction whose pc already points at
/// the instruction.
pub fn do_vfp_undef(regs: &mut PtRegs) -> UndefOutcome {
    if !vfp_present() {
        return UndefOutcome::NotVfp;
    }
    let pc = regs.uregs[ARM_PC];
    let thumb = regs.uregs[ARM_CPSR] & super::traps::PSR_T_BIT != 0;
    let insn = if thumb {
        let Ok(hw1) = fetch_halfword(pc) else { return UndefOutcome::NotVfp };
        if hw1 >> 11 < 0x1d {
            return UndefOutcome::NotVfp; // a 16-bit Thumb instruction
        }
        let Ok(hw2) = fetch_halfword(pc.wrapping_add(2)) else { return UndefOutcome::NotVfp };
        hw1 << 16 | hw2
    } else {
        match super::uaccess::get_user(pc) {
            Ok(w) if pc & 3 == 0 => w,
            _ => return UndefOutcome::NotVfp,
        }
    };
    if !is_vfp_insn(insn, thumb) {
        return UndefOutcome::NotVfp;
    }
    let me = crate::process::thread_info::current_thread_info_ptr();
    // SAFETY: cp10/cp11 are accessible (vfp_present).
    let fpexc = unsafe { vfp_fpexc_read() };
    if owner() == me && fpexc & FPEXC_EN != 0 {
        // Enabled and ours, and still undefined: an exception that needs
        // support code (a bounce), or an encoding the unit does not have.
        // SAFETY: as above; the task is about to die, its state is moot.
        unsafe { vfp_fpexc_write(FPEXC_EN) };
        return if fpexc & (FPEXC_EX | FPEXC_DEX) != 0 {
            UndefOutcome::Signal(crate::process::resources::SIGFPE)
        } else {
            UndefOutcome::Signal(crate::process::resources::SIGILL)
        };
    }
    vfp_claim(me);
    UndefOutcome::Retry
}

/// Makes the current task (`me`) the owner, its registers loaded, EN set.
fn vfp_claim(me: *mut ThreadInfo) {
    let flags = super::local_irq_save();
    let old = owner();
    // SAFETY: cp10/cp11 are accessible; `old` is a live task (exit drops
    // ownership) and `me` the current one.
    unsafe {
        vfp_fpexc_write(FPEXC_EN);
        if old != me {
            if !old.is_null() {
                save_owner(old);
            }
            let t = &mut *(*me).task;
            if !t.vfp_used {
                t.vfpstate = VfpState::INIT;
                t.vfp_used = true;
            }
            vfp_load_hw(&t.vfpstate, D32.load(Ordering::Relaxed) as u32);
            vfp_current_hw_state.store(me, Ordering::Relaxed);
            log::debug!(
                "VFP: {}[{}] takes the unit from {}",
                t.comm(),
                t.pid(),
                if old.is_null() { 0 } else { (*(*old).task).pid() }
            );
        }
    }
    super::local_irq_restore(flags);
}

fn fetch_halfword(addr: u32) -> Result<u32, crate::errno::Errno> {
    let w = super::uaccess::get_user(addr & !3)?;
    Ok(if addr & 2 != 0 { w >> 16 } else { w & 0xffff })
}

/// `vfp_sync_hwstate` for fork: if `t` (the current task) owns the unit,
/// writes its live registers to its task_struct so that a copy sees them.
pub fn vfp_sync_hwstate(t: &TaskStruct) {
    let flags = super::local_irq_save();
    let o = owner();
    if !o.is_null() && core::ptr::eq(o, t.stack) {
        // SAFETY: o is the current, live task.
        unsafe { save_owner(o) };
    }
    super::local_irq_restore(flags);
}

/// Drops the current task's claim on the unit (exit, and exec where the
/// new program starts from `VfpState::INIT`): the owner pointer never
/// names a task that is gone or a program that is gone.
#[inline]
pub fn vfp_release_current() {
    let me = crate::process::thread_info::current_thread_info_ptr();
    vfp_release(me);
}

#[inline]
fn vfp_release(ti: *mut ThreadInfo) {
    // Only a task itself makes itself the owner (vfp_claim), so if `ti` is
    // not the owner now, it cannot become it under us: the common case
    // (a task that is not the owner) costs a load and a compare.
    if owner() != ti {
        return;
    }
    let flags = super::local_irq_save();
    if owner() == ti && !ti.is_null() {
        vfp_current_hw_state.store(core::ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: there is an owner, so the unit is present and accessible.
        unsafe { vfp_fpexc_write(0) };
    }
    super::local_irq_restore(flags);
}

/// `flush_thread`'s VFP part (exec): the new program starts clean.
pub fn vfp_flush_thread(vfp_used: &mut bool) {
    vfp_release_current();
    *vfp_used = false;
}

/// The last check before a task's thread_info block is freed: it must not
/// be the owner (do_exit released it). Clears it if it were, loudly.
#[inline]
pub fn vfp_check_free(ti: *mut ThreadInfo) {
    if owner() == ti {
        check_free_failed(ti);
    }
}

#[cold]
fn check_free_failed(ti: *mut ThreadInfo) {
    log::error!("VFP: freeing the thread_info at {:p}, still the VFP owner; released", ti);
    vfp_release(ti);
}

/// For tests: the owner as a raw address (0: none).
pub fn current_owner() -> usize {
    owner() as usize
}

crate::ktest! {
    fn vfp_decoder_recognises_vfp_and_neon_encodings() {
        // ARM state.
        let arm_yes = [
            0xee30_0b01u32, // vadd.f64 d0, d0, d1
            0xee20_0a81,    // vmul.f32 s0, s1, s2
            0x0e30_0b01,    // vaddeq.f64 d0, d0, d1 (conditional)
            0xeef1_0a10,    // vmrs r0, fpscr
            0xeee1_0a10,    // vmsr fpscr, r0
            0xed90_0b00,    // vldr d0, [r0]
            0xed80_8b02,    // vstr d8, [r0, #8]
            0xecb0_8b04,    // vldmia r0!, {d8-d9}
            0xec41_0b10,    // vmov d0, r0, r1
            0xeeb0_0b41,    // vmov.f64 d0, d1
            0xeeb7_0bc0,    // vcvt.f32.f64 s0, d0
            0xf220_0840,    // vadd.i32 q0, q0, q0
            0xf320_0150,    // veor q0, q0, q0
            0xf2a0_0050,    // vmla.i32 q0, q0, d0[0] (Advanced SIMD data processing)
            0xf420_0a8f,    // vld1.32 {d0-d1}, [r0]
            0xf400_0a8f,    // vst1.32 {d0-d1}, [r0]
            0xf4a0_0c8f,    // vld1.32 {d0[]}, [r0]
        ];
        for &i in &arm_yes {
            assert!(is_vfp_insn(i, false), "ARM {:#010x} is VFP/NEON", i);
        }
        let arm_no = [
            0xe7f0_00f0u32, // udf
            0xef00_0000,    // svc #0
            0xee11_0f10,    // mrc p15, 0, r0, c1, c0, 0 (cp15)
            0xec40_0f10,    // mcrr p15 (cp15)
            0xe0800001,     // add r0, r0, r1
            0xf57f_f06f,    // isb
            0xf450_f000,    // pld [r0] (1111 0100 xxx1: not a structure load)
            0xfe00_0a00,    // cdp2 p10: unconditional space, not VFP
            0xfc40_0b10,    // mcrr2 p11
            0xe59f_0000,    // ldr r0, [pc]
        ];
        for &i in &arm_no {
            assert!(!is_vfp_insn(i, false), "ARM {:#010x} is not VFP/NEON", i);
        }
        // Thumb-2 (first halfword in the high half).
        let thumb_yes = [
            0xee30_0b01u32, // vadd.f64 d0, d0, d1
            0xeef1_0a10,    // vmrs r0, fpscr
            0xed90_0b00,    // vldr d0, [r0]
            0xec41_0b10,    // vmov d0, r0, r1
            0xef20_0840,    // vadd.i32 q0, q0, q0
            0xff00_0150,    // veor q0, q0, q0
            0xf920_0a8f,    // vld1.32 {d0-d1}, [r0]
            0xf900_0a8f,    // vst1.32 {d0-d1}, [r0]
        ];
        for &i in &thumb_yes {
            assert!(is_vfp_insn(i, true), "Thumb {:#010x} is VFP/NEON", i);
        }
        let thumb_no = [
            0xee11_0f10u32, // mrc p15
            0xf8d0_0000,    // ldr.w r0, [r0]
            0xe92d_4ff0,    // push.w {r4-r11, lr}
            0xf910_f000,    // pli/pld-class (bit 20 set: not a structure store/load)
            0xde00_0000,    // udf #0 (16-bit) padded
        ];
        for &i in &thumb_no {
            assert!(!is_vfp_insn(i, true), "Thumb {:#010x} is not VFP/NEON", i);
        }
    }
}

crate::ktest! {
    fn vfp_is_detected_on_every_supported_board() {
        // Every machine make test boots has VFPv3 or VFPv4 with NEON.
        assert!(vfp_present(), "no VFP found");
        assert!(D32.load(Ordering::Relaxed), "expected D32 (NEON implies 32 registers)");
        // Lazy: nobody's registers are live in a kernel thread.
        // SAFETY: present, so cp10/cp11 are accessible.
        let fpexc = unsafe { vfp_fpexc_read() };
        assert!(owner() != crate::process::thread_info::current_thread_info_ptr());
        assert_eq!(fpexc & FPEXC_EN, 0, "FPEXC.EN on in a task that does not own the unit");
    }
}

fn claim_and_exit(_: usize) -> i32 {
    // What the undefined-instruction handler does for a user task: this
    // kernel thread becomes the owner, then exits still holding it.
    vfp_claim(crate::process::thread_info::current_thread_info_ptr());
    assert_eq!(current_owner(), crate::process::thread_info::current_thread_info_ptr() as usize);
    0
}

crate::ktest! {
    fn vfp_a_dead_task_is_never_the_owner() {
        use crate::process::exit::do_wait;
        use crate::process::fork::kernel_thread;
        if !vfp_present() {
            return;
        }
        for _ in 0..3 {
            let pid = kernel_thread(claim_and_exit, 0, 17).unwrap();
            let (p, status) = do_wait(pid as i32, 0).unwrap();
            assert_eq!((p, status), (pid, 0));
            // The task exited owning the unit, and has been reaped (its
            // thread_info freed): the owner is nobody now.
            assert_eq!(current_owner(), 0, "a dead task is still the VFP owner");
            // SAFETY: present, so cp10/cp11 are accessible.
            assert_eq!(unsafe { vfp_fpexc_read() } & FPEXC_EN, 0);
        }
    }
}
