//! Integration tests of the auth port's in-memory adapter.

mod memory;
