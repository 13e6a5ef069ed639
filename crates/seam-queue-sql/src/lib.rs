//! The queue port on a SQL table (work in progress).
