//! Linux's errno values, as the ARM EABI returns them (negated) in r0.

/// An error number with Linux's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    E2BIG = 7,
    ENOEXEC = 8,
    EBADF = 9,
    ECHILD = 10,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    EINVAL = 22,
    EMFILE = 24,
    ENOTTY = 25,
    ENOSPC = 28,
    ERANGE = 34,
    ENAMETOOLONG = 36,
    ENOSYS = 38,
    EOPNOTSUPP = 95,
    ETIMEDOUT = 110,
    /// Kernel-internal, never seen by a program: the system call was
    /// interrupted by a signal; restart it unless a handler without
    /// SA_RESTART runs (then EINTR). Linux's ERESTARTSYS.
    ERESTARTSYS = 512,
    /// Kernel-internal: restart unless a handler runs (then EINTR whatever
    /// its SA_RESTART): rt_sigsuspend, an absolute clock_nanosleep.
    ERESTARTNOHAND = 514,
    /// Kernel-internal: as ERESTARTNOHAND, but the restart goes through
    /// `restart_syscall` and the task's restart block (a relative sleep
    /// resumes with its deadline, not its full time again).
    #[allow(non_camel_case_types)]
    ERESTART_RESTARTBLOCK = 516,
}

impl Errno {
    /// The value a system call returns in r0: `-errno`.
    pub const fn as_ret(self) -> i32 {
        -(self as i32)
    }

    /// Linux's short name, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::ENOENT => "ENOENT",
            Errno::ESRCH => "ESRCH",
            Errno::EINTR => "EINTR",
            Errno::EIO => "EIO",
            Errno::E2BIG => "E2BIG",
            Errno::ENOEXEC => "ENOEXEC",
            Errno::EACCES => "EACCES",
            Errno::ENAMETOOLONG => "ENAMETOOLONG",
            Errno::EBADF => "EBADF",
            Errno::ECHILD => "ECHILD",
            Errno::EAGAIN => "EAGAIN",
            Errno::ENOMEM => "ENOMEM",
            Errno::EFAULT => "EFAULT",
            Errno::EBUSY => "EBUSY",
            Errno::EEXIST => "EEXIST",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
            Errno::EMFILE => "EMFILE",
            Errno::ENOTTY => "ENOTTY",
            Errno::ENOSPC => "ENOSPC",
            Errno::ERANGE => "ERANGE",
            Errno::ENOSYS => "ENOSYS",
            Errno::EOPNOTSUPP => "EOPNOTSUPP",
            Errno::ETIMEDOUT => "ETIMEDOUT",
            Errno::ERESTARTSYS => "ERESTARTSYS",
            Errno::ERESTARTNOHAND => "ERESTARTNOHAND",
            Errno::ERESTART_RESTARTBLOCK => "ERESTART_RESTARTBLOCK",
        }
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.name(), *self as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_linux_arm_eabi() {
        assert_eq!(Errno::EAGAIN as i32, 11);
        assert_eq!(Errno::EINVAL.as_ret(), -22);
        assert_eq!(Errno::ENOSYS as i32, 38);
        assert_eq!(Errno::ECHILD.name(), "ECHILD");
    }
}
