//! Architecture support. Only 32-bit ARM (ARMv7-A) exists; the rest of the
//! kernel uses what `arch` re-exports.
pub mod arm;
pub use arm::*;
