//! The storage port: ObjectStorage, validated keys, streaming bodies, an in-memory adapter, tenant scoping, mirroring and the conformance suite.
