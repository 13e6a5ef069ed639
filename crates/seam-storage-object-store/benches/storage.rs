//! Upload and download throughput through the port, beside `object_store` alone.

fn main() {}
