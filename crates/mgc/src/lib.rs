//! The gateway's library: the parts of `mgc` that other binaries and tests drive directly.

pub mod circuits;
