//! Storage adapter over aws-sdk-s3: presigned URLs, server-side encryption, storage classes, resumable multipart, S3-compatible endpoints.
