//! Files: for now the initramfs (a newc cpio archive from `-initrd`),
//! read in place.
pub mod cpio;
