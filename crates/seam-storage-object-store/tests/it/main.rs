//! The object_store adapter against a local directory and against a real S3 server
//! (s3s-fs, which checks signatures; started by `scripts/s3-server.sh start`).

mod behaviour;
mod config;
mod conformance;
mod errors;
mod health;
mod local;
mod port_metrics;
mod s3;
mod support;
