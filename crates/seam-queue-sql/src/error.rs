//! This adapter's failures, converted into the port's error at its edge.

use seam_core::ErrorKind;
use seam_sql::classify_sqlx_error;

/// What went wrong inside the table queue.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SqlQueueError {
    /// A statement failed.
    #[error("{0}")]
    Sql(#[from] sqlx::Error),
    /// A row this adapter wrote cannot be read back.
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
}

impl SqlQueueError {
    pub(crate) fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            table,
            detail: detail.to_string(),
        }
    }
}

impl From<SqlQueueError> for seam_queue::Error {
    fn from(error: SqlQueueError) -> Self {
        let kind = match &error {
            SqlQueueError::Sql(source) => classify_sqlx_error(source),
            SqlQueueError::Corrupt { .. } => ErrorKind::Internal,
        };
        seam_queue::Error::backend(crate::ADAPTER, kind, error)
    }
}

#[cfg(test)]
mod tests {
    use seam_core::Classify;

    use super::*;

    #[test]
    fn classified_at_the_edge() {
        let error: seam_queue::Error = SqlQueueError::Sql(sqlx::Error::PoolTimedOut).into();
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        assert!(matches!(error, seam_queue::Error::Unavailable { .. }));
        let error: seam_queue::Error = SqlQueueError::corrupt("queue_messages", "bad").into();
        assert_eq!(error.kind(), ErrorKind::Internal);
    }
}
