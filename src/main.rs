//! The kernel binary: everything lives in the `armfork` library; this file only
//! links it (the boot stub, `start_kernel` and the panic handler come with it).
#![no_std]
#![no_main]

use armfork as _;
