//! The embedded sandbox payment provider: deterministic, in-process, with documented magic values, emitting provider-shaped webhook events.
