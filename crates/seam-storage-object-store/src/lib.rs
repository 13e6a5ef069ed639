//! Storage adapter over the object_store crate: local files (the embedded default), S3, GCS and Azure.
