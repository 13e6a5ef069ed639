//! Integration tests of the payments port: the memory adapter against the conformance
//! suite, the resilience decorator, and Stripe event parsing.

mod conformance;
mod resilient;
mod stripe_event;
