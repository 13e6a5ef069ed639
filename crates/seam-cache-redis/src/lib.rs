//! The Redis adapter of the cache port.
