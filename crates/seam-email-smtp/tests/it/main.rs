//! The SMTP adapter against a real SMTP server (the aiosmtpd sink started by
//! `scripts/test-servers.sh`) and against scripted misbehaving servers.

mod conformance;
mod errors;
