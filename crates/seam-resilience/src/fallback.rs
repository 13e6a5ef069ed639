//! A fallback chain: ask the primary, and when it fails, the next source, down to a default.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;

use futures::future::BoxFuture;
use seam_core::Classify;

type Source<'a, T, E> = (
    Cow<'static, str>,
    Box<dyn FnOnce() -> BoxFuture<'a, Result<T, E>> + Send + 'a>,
);

/// A value and the source that answered, such as `"primary"`, `"cache"` or `"default"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered<T> {
    /// The value.
    pub value: T,
    /// The label of the source that produced it.
    pub source: Cow<'static, str>,
    /// Its position in the chain: 0 for the primary.
    pub position: usize,
}

impl<T> Answered<T> {
    /// Whether a fallback (not the primary) answered.
    pub fn is_fallback(&self) -> bool {
        self.position > 0
    }
}

/// "Service, then cache, then default": tries sources in order until one answers.
///
/// A source's error falls through to the next source only if the fall-through predicate
/// says so. By default that is an upstream failure or a policy rejection (the kinds for
/// which [`ErrorKind::is_upstream_failure`](seam_core::ErrorKind::is_upstream_failure)
/// holds: transient, rate limited, unavailable, timeout). A caller's mistake such as
/// `Invalid` is returned as it is: a cache cannot make a bad request good. When every
/// source fails, the last error is returned.
///
/// Which source answered is in the [`Answered`] result, in the log, and in the counter
/// `seam_fallback_answers_total{fallback,source}`.
///
/// ```
/// # futures::executor::block_on(async {
/// use seam_core::ErrorKind;
/// use seam_resilience::Fallback;
///
/// let price = Fallback::new(|| async { Err::<u32, _>(ErrorKind::Unavailable) })
///     .named("price")
///     .or_else_named("cache", || async { Err(ErrorKind::NotFound) })
///     .or_default(100)
///     .call()
///     .await
///     .unwrap();
/// assert_eq!((price.value, price.source.as_ref()), (100, "default"));
/// # });
/// ```
///
/// Note that the cache's `NotFound` above fell through: only the *primary's* error is
/// tested against the predicate. A later source falls through on any error, because a
/// miss is the normal way for a cache to fail.
pub struct Fallback<'a, T, E> {
    name: Cow<'static, str>,
    sources: Vec<Source<'a, T, E>>,
    fall_through: Box<dyn Fn(&E) -> bool + Send + Sync + 'a>,
}

impl<T, E> fmt::Debug for Fallback<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("name", &self.name)
            .field(
                "sources",
                &self
                    .sources
                    .iter()
                    .map(|(label, _)| label)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<'a, T, E> Fallback<'a, T, E>
where
    T: Send + 'a,
    E: Classify + Send + 'a,
{
    /// A chain that starts with `primary`, labelled `"primary"`.
    pub fn new<F, Fut>(primary: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
    {
        Self {
            name: Cow::Borrowed("fallback"),
            sources: Vec::new(),
            fall_through: Box::new(|error: &E| error.kind().is_upstream_failure()),
        }
        .or_else_named("primary", primary)
    }

    /// Names the chain, for logs and metrics.
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds a source, labelled `fallback_<n>` (1 for the first after the primary).
    pub fn or_else<F, Fut>(self, source: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
    {
        let label = format!("fallback_{}", self.sources.len());
        self.or_else_named(label, source)
    }

    /// Adds a source with a label, such as `"cache"`.
    pub fn or_else_named<F, Fut>(mut self, label: impl Into<Cow<'static, str>>, source: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
    {
        self.sources
            .push((label.into(), Box::new(move || Box::pin(source()))));
        self
    }

    /// Ends the chain with a fixed value, labelled `"default"`.
    pub fn or_default(self, value: T) -> Self {
        self.or_else_named("default", move || async move { Ok(value) })
    }

    /// Replaces the predicate deciding whether the primary's error falls through.
    pub fn fall_through_when(mut self, predicate: impl Fn(&E) -> bool + Send + Sync + 'a) -> Self {
        self.fall_through = Box::new(predicate);
        self
    }

    /// Tries the sources in order; see [`Fallback`].
    pub async fn call(self) -> Result<Answered<T>, E> {
        let count = self.sources.len();
        let mut last_error = None;
        // `new` always adds the primary, so the loop runs at least once.
        for (position, (label, source)) in self.sources.into_iter().enumerate() {
            match source().await {
                Ok(value) => {
                    if position > 0 {
                        tracing::info!(fallback = %self.name, source = %label, "answered by a fallback source");
                    }
                    metrics::counter!(
                        "seam_fallback_answers_total",
                        "fallback" => self.name.clone(),
                        "source" => label.clone(),
                    )
                    .increment(1);
                    return Ok(Answered {
                        value,
                        source: label,
                        position,
                    });
                }
                Err(error) => {
                    let last = position + 1 == count;
                    if last || (position == 0 && !(self.fall_through)(&error)) {
                        return Err(error);
                    }
                    tracing::debug!(fallback = %self.name, source = %label, kind = %error.kind(), "source failed; falling through");
                    last_error = Some(error);
                }
            }
        }
        match last_error {
            Some(error) => Err(error),
            None => unreachable!("a chain always has its primary"),
        }
    }
}
