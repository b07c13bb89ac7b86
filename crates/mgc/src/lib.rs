//! The gateway's library: the parts of `mgc` that its binary, the conformance runner and the tests
//! drive directly. Data flows ISUP (M3UA) ⇄ [`gateway::Gateway`] (circuits + interworking, sans-IO)
//! ⇄ SIP; [`runtime`] performs the I/O.

pub mod assemble;
pub mod circuits;
pub mod config;
pub mod conformance;
pub mod embedded_sim;
pub mod gateway;
pub mod logging;
pub mod metrics;
pub mod runtime;
pub mod trace;
