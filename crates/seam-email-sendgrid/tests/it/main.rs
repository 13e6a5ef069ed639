//! The SendGrid adapter against a local mock of SendGrid's API (wiremock).

mod api;
mod conformance;
