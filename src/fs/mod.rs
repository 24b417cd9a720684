//! Files: for now the initramfs (newc cpio archives from `-initrd`, plain
//! and read in place, or gzip-compressed and unpacked at boot).
pub mod cpio;
pub mod gzip;
pub mod initramfs;
