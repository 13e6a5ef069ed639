//! seam-queue-sql against the real servers.
