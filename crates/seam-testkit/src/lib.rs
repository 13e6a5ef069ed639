//! Test harness: required-service checks, isolated databases, test log capture. Dev-dependency only.
