//! The conformance suite on the in-memory broker: on a manual clock (every timeout passes
//! instantly) and on the system clock (short real timeouts).

mod memory;
