//! The ARM half of signal delivery (Linux's arch/arm/kernel/signal.c): the
//! frame a handler runs on, and taking it apart again at sigreturn.
//!
//! The layout is Linux's, so that a handler (or a debugger, or a C library)
//! reading its `ucontext_t` finds what it expects:
//!
//! ```text
//! rt_sigframe (SA_SIGINFO):  siginfo (128 bytes), then a sigframe
//! sigframe:                  ucontext (744 bytes), retcode (16 bytes, unused)
//! ucontext:   +0 uc_flags  +4 uc_link  +8 uc_stack (12)
//!             +20 uc_mcontext: trap_no, error_code, oldmask, r0-r10, fp, ip,
//!                 sp, lr, pc, cpsr, fault_address (21 words)
//!             +104 uc_sigmask (8 bytes, padded to 128)
//!             +232 uc_regspace (512 bytes): the VFP block (VFP_MAGIC, 288
//!                 bytes: d0-d31, fpscr, fpexc...) if the task used VFP, then a
//!                 zero word
//! ```
//!
//! The handler returns to `sa_restorer` (C libraries always give one),
//! which calls sigreturn; without SA_RESTORER there is nowhere to return
//! to (Linux uses a "sigpage" of its own for that) and the return faults.

use super::traps::{PtRegs, ARM_CPSR, ARM_LR, ARM_PC, ARM_SP, PSR_T_BIT};
use super::uaccess::{copy_from_user, copy_to_user};
use crate::errno::Errno;
use crate::process::resources::SigAction;
use crate::process::signal::{SA_RESTORER, SA_SIGINFO};

pub const SIGINFO_SIZE: usize = 128;
const UCONTEXT_SIZE: usize = 744;
const SIGFRAME_SIZE: usize = UCONTEXT_SIZE + 16;
const RT_SIGFRAME_SIZE: usize = SIGINFO_SIZE + SIGFRAME_SIZE;
const UC_MCONTEXT: usize = 20;
const UC_SIGMASK: usize = 104;
const UC_REGSPACE: usize = 232;
const VFP_MAGIC: u32 = 0x5646_5001;
const VFP_STORAGE_SIZE: usize = 288;
/// CPSR bits a frame may bring back: flags, IT, GE, E, T; the mode is
/// always user and interrupts stay enabled.
const USER_CPSR_BITS: u32 = 0xfe0f_fe20;
const PSR_IT_BITS: u32 = 0x0600_fc00;
const MODE_USR: u32 = 0x10;

fn put(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn get(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

/// Where a frame goes and what its `uc_stack` says: the stack pointer to
/// build below (the alternate stack's top, or the interrupted sp), and the
/// alternate stack as sigaltstack would report it.
pub struct FrameStack {
    pub sp: u32,
    pub ss_sp: u32,
    pub ss_flags: u32,
    pub ss_size: u32,
}

/// Builds the frame for `act`'s handler below `stack.sp` and points the
/// registers at the handler. `info` is the user siginfo (its first word the
/// signal); `old_mask` is the mask to restore at sigreturn. EFAULT if the
/// stack cannot take the frame.
pub fn setup_frame(
    regs: &mut PtRegs,
    info: &[u8; SIGINFO_SIZE],
    act: &SigAction,
    old_mask: u64,
    stack: &FrameStack,
) -> Result<(), Errno> {
    let sig = get(info, 0);
    let rt = act.flags & SA_SIGINFO != 0;
    let size = if rt { RT_SIGFRAME_SIZE } else { SIGFRAME_SIZE };
    let frame = stack.sp.checked_sub(size as u32).ok_or(Errno::EFAULT)? & !7;
    let mut f = [0u8; RT_SIGFRAME_SIZE];
    let uc = if rt { SIGINFO_SIZE } else { 0 };
    if rt {
        f[..SIGINFO_SIZE].copy_from_slice(info);
    }
    put(&mut f, uc + 8, stack.ss_sp);
    put(&mut f, uc + 12, stack.ss_flags);
    put(&mut f, uc + 16, stack.ss_size);
    let mc = uc + UC_MCONTEXT;
    put(&mut f, mc + 8, old_mask as u32); // oldmask
    for (i, r) in regs.uregs[..17].iter().enumerate() {
        put(&mut f, mc + 12 + 4 * i, *r); // r0-r12, sp, lr, pc, cpsr
    }
    put(&mut f, uc + UC_SIGMASK, old_mask as u32);
    put(&mut f, uc + UC_SIGMASK + 4, (old_mask >> 32) as u32);
    let rs = uc + UC_REGSPACE;
    let me = crate::current!();
    if me.vfp_used {
        // The live registers first, into the task_struct, then the frame.
        super::vfp::vfp_sync_hwstate(me);
        // SAFETY: just written by vfp_sync_hwstate (or never live).
        let st = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(me.vfpstate)) };
        put(&mut f, rs, VFP_MAGIC);
        put(&mut f, rs + 4, VFP_STORAGE_SIZE as u32);
        for (i, d) in st.d.iter().enumerate() {
            f[rs + 8 + 8 * i..rs + 16 + 8 * i].copy_from_slice(&d.to_le_bytes());
        }
        put(&mut f, rs + 8 + 256, st.fpscr);
        put(&mut f, rs + 8 + 264, st.fpexc);
        // The zero word after the block ends the list (already zero).
    }
    copy_to_user(frame, &f[..size])?;
    regs.uregs[0] = sig;
    if rt {
        regs.uregs[1] = frame;
        regs.uregs[2] = frame + uc as u32;
    }
    regs.uregs[ARM_SP] = frame;
    regs.uregs[ARM_LR] = if act.flags & SA_RESTORER != 0 { act.restorer } else { 0 };
    regs.uregs[ARM_PC] = act.handler & !1;
    let mut cpsr = regs.uregs[ARM_CPSR] & !(PSR_IT_BITS | PSR_T_BIT);
    if act.handler & 1 != 0 {
        cpsr |= PSR_T_BIT; // a Thumb handler
    }
    regs.uregs[ARM_CPSR] = cpsr;
    Ok(())
}

/// sigreturn: the registers and the VFP state from the frame at sp (an
/// rt_sigframe if `rt`). Returns the signal mask to restore and the frame's
/// `uc_stack` (ss_sp, ss_flags, ss_size). EFAULT for a
/// frame that cannot be read or does not check out (misaligned, a VFP block
/// with a wrong size); the caller kills the task then.
pub fn restore_frame(regs: &mut PtRegs, rt: bool) -> Result<(u64, [u32; 3]), Errno> {
    let sp = regs.uregs[ARM_SP];
    if sp & 7 != 0 {
        return Err(Errno::EFAULT);
    }
    let uc = sp.checked_add(if rt { SIGINFO_SIZE as u32 } else { 0 }).ok_or(Errno::EFAULT)?;
    let mut u = [0u8; UC_REGSPACE + VFP_STORAGE_SIZE + 4];
    copy_from_user(&mut u, uc)?;
    let mut new = *regs;
    for (i, r) in new.uregs[..17].iter_mut().enumerate() {
        *r = get(&u, UC_MCONTEXT + 12 + 4 * i);
    }
    new.uregs[ARM_CPSR] = (new.uregs[ARM_CPSR] & USER_CPSR_BITS) | MODE_USR;
    let mask = get(&u, UC_SIGMASK) as u64 | (get(&u, UC_SIGMASK + 4) as u64) << 32;
    let ss = [get(&u, 8), get(&u, 12), get(&u, 16)];
    let rs = UC_REGSPACE;
    match get(&u, rs) {
        0 => {}
        VFP_MAGIC if get(&u, rs + 4) as usize == VFP_STORAGE_SIZE => {
            // The unit lets go of the live registers: the next VFP
            // instruction loads these from the task_struct.
            super::vfp::vfp_release_current();
            crate::current!().with_own_slots(|s| {
                for (i, d) in s.vfpstate.d.iter_mut().enumerate() {
                    *d = u64::from_le_bytes(u[rs + 8 + 8 * i..rs + 16 + 8 * i].try_into().expect("8 bytes"));
                }
                s.vfpstate.fpscr = get(&u, rs + 8 + 256);
                *s.vfp_used = true;
            });
        }
        _ => return Err(Errno::EFAULT),
    }
    *regs = new;
    Ok((mask, ss))
}
