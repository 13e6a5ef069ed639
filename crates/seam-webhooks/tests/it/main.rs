//! Signature verification against provider-produced vectors and vectors computed here
//! from each scheme's documented algorithm.

mod config;
mod github;
mod ingest;
mod metrics;
mod props;
mod sendgrid;
mod standard;
mod stripe;
mod support;
mod vectors;
