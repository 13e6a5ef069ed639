//! Redis Streams adapter of the queue port: XADD with trimming, consumer groups, XAUTOCLAIM, a dead-letter stream.
