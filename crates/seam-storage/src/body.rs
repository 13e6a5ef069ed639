//! Object bodies as streams of bytes, so large objects never sit in memory whole.

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;

use crate::error::{Error, Result};

/// A body: chunks of bytes, each possibly an error. What `put` reads and `get` returns.
pub type ByteStream = BoxStream<'static, Result<Bytes, Error>>;

/// A body of one chunk (none when `bytes` is empty).
pub fn from_bytes(bytes: impl Into<Bytes>) -> ByteStream {
    let bytes = bytes.into();
    if bytes.is_empty() {
        stream::empty().boxed()
    } else {
        stream::once(async move { Ok(bytes) }).boxed()
    }
}

/// A body read from `reader` (a file, a socket), chunk by chunk.
///
/// A read failure ends the stream with an [`Error::Transient`].
pub fn from_reader(reader: impl AsyncRead + Send + 'static) -> ByteStream {
    ReaderStream::new(reader)
        .map_err(|error| Error::transient_from("reading the body failed", error))
        .boxed()
}

/// Reads the whole body into memory, refusing more than `limit` bytes.
///
/// # Errors
///
/// The stream's own error, or [`Error::Invalid`] when the body is longer than `limit`.
pub async fn collect(mut body: ByteStream, limit: u64) -> Result<Bytes> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if buffer.len() as u64 + chunk.len() as u64 > limit {
            return Err(Error::invalid(format!(
                "body is longer than the {limit} bytes allowed"
            )));
        }
        if buffer.is_empty() {
            // The common single-chunk case keeps the chunk without copying it.
            if let Some(next) = body.next().await {
                let next = next?;
                if chunk.len() as u64 + next.len() as u64 > limit {
                    return Err(Error::invalid(format!(
                        "body is longer than the {limit} bytes allowed"
                    )));
                }
                buffer.extend_from_slice(&chunk);
                buffer.extend_from_slice(&next);
                continue;
            }
            return Ok(chunk);
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        let parts: Vec<Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        stream::iter(parts).boxed()
    }

    #[tokio::test]
    async fn collect_joins_chunks_within_the_limit() {
        assert_eq!(collect(from_bytes(Bytes::new()), 0).await.unwrap(), "");
        assert_eq!(collect(from_bytes("abc"), 3).await.unwrap(), "abc");
        assert_eq!(
            collect(chunks(&[b"ab", b"cd", b"e"]), 5).await.unwrap(),
            "abcde"
        );
        assert!(matches!(
            collect(chunks(&[b"ab", b"cd", b"e"]), 4).await,
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            collect(chunks(&[b"ab", b"cd"]), 3).await,
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            collect(from_bytes("abcd"), 3).await,
            Err(Error::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn collect_passes_stream_errors_on() {
        let body =
            stream::iter([Ok(Bytes::from_static(b"a")), Err(Error::transient("cut"))]).boxed();
        assert!(matches!(
            collect(body, 10).await,
            Err(Error::Transient { .. })
        ));
    }

    #[tokio::test]
    async fn from_reader_streams_the_reader() {
        let data: &'static [u8] = b"hello from a reader";
        assert_eq!(collect(from_reader(data), 100).await.unwrap(), data);
    }
}
