//! Routing: which queues a routing key reaches, with AMQP topic-exchange semantics.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Binds a queue to the routing keys matching `pattern`.
///
/// Keys and patterns are dot-separated words; in a pattern `*` matches exactly one word
/// and `#` zero or more words, as in an AMQP topic exchange.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueueBinding {
    /// The queue that receives the matching messages.
    pub queue: String,
    /// The routing-key pattern, e.g. `order.*` or `order.#`.
    pub pattern: String,
}

impl QueueBinding {
    /// Binds `queue` to `pattern`.
    pub fn new(queue: impl Into<String>, pattern: impl Into<String>) -> Self {
        Self {
            queue: queue.into(),
            pattern: pattern.into(),
        }
    }

    /// Whether `routing_key` reaches this binding's queue.
    pub fn matches(&self, routing_key: &str) -> bool {
        topic_matches(&self.pattern, routing_key)
    }
}

/// Whether the routing key `key` matches the topic `pattern`: dot-separated words, where
/// `*` in the pattern matches exactly one word and `#` zero or more.
///
/// ```
/// use seam_queue::topic_matches;
///
/// assert!(topic_matches("order.*", "order.placed"));
/// assert!(!topic_matches("order.*", "order.placed.eu"));
/// assert!(topic_matches("order.#", "order"));
/// assert!(topic_matches("#.eu", "order.placed.eu"));
/// assert!(!topic_matches("order.placed", "order.paid"));
/// ```
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = key.split('.').collect();
    // matched[j]: the pattern words seen so far match the first j key words.
    let mut matched = vec![false; key.len() + 1];
    matched[0] = true;
    for word in pattern {
        let mut next = vec![false; key.len() + 1];
        match word {
            "#" => {
                let mut reachable = false;
                for j in 0..=key.len() {
                    reachable |= matched[j];
                    next[j] = reachable;
                }
            }
            "*" => {
                next[1..].copy_from_slice(&matched[..key.len()]);
            }
            literal => {
                for j in 1..=key.len() {
                    next[j] = matched[j - 1] && key[j - 1] == literal;
                }
            }
        }
        matched = next;
    }
    matched[key.len()]
}

/// Checks a routing key before publishing: non-empty and no wildcard characters.
///
/// # Errors
///
/// [`Error::Invalid`] for an empty key or one containing `*` or `#`.
pub fn validate_routing_key(routing_key: &str) -> Result<()> {
    if routing_key.trim().is_empty() {
        return Err(Error::invalid("the routing key is empty"));
    }
    if routing_key.contains(['*', '#']) {
        return Err(Error::invalid(format!(
            "routing key {routing_key:?} contains a wildcard (`*` or `#`); wildcards belong in binding patterns"
        )));
    }
    Ok(())
}

/// The queues (each once, in binding order) that `routing_key` reaches.
///
/// # Errors
///
/// [`Error::Invalid`] for a malformed key (see [`validate_routing_key`]);
/// [`Error::Unroutable`] when no binding matches.
pub fn route<'a>(bindings: &'a [QueueBinding], routing_key: &str) -> Result<Vec<&'a str>> {
    validate_routing_key(routing_key)?;
    let mut queues: Vec<&str> = Vec::new();
    for binding in bindings {
        if binding.matches(routing_key) && !queues.contains(&binding.queue.as_str()) {
            queues.push(&binding.queue);
        }
    }
    if queues.is_empty() {
        return Err(Error::Unroutable {
            routing_key: routing_key.to_owned(),
        });
    }
    Ok(queues)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn examples() {
        for (pattern, key, expected) in [
            ("a.b", "a.b", true),
            ("a.b", "a.c", false),
            ("a.*", "a.b", true),
            ("a.*", "a", false),
            ("a.*", "a.b.c", false),
            ("*.b", "a.b", true),
            ("*", "a", true),
            ("*", "a.b", false),
            ("#", "a", true),
            ("#", "a.b.c", true),
            ("a.#", "a", true),
            ("a.#", "a.b.c", true),
            ("a.#", "b.a", false),
            ("#.c", "a.b.c", true),
            ("#.c", "c", true),
            ("#.c", "c.d", false),
            ("a.#.c", "a.c", true),
            ("a.#.c", "a.b.b.c", true),
            ("a.*.#", "a", false),
            ("a.*.#", "a.b", true),
            ("#.#", "a.b", true),
            ("*.*", "a.b", true),
            ("*.*", "a.b.c", false),
        ] {
            assert_eq!(topic_matches(pattern, key), expected, "{pattern} vs {key}");
        }
    }

    #[test]
    fn route_deduplicates_and_rejects_unroutable() {
        let bindings = [
            QueueBinding::new("orders", "order.*"),
            QueueBinding::new("audit", "#"),
            QueueBinding::new("orders", "order.placed"),
        ];
        assert_eq!(
            route(&bindings, "order.placed").unwrap(),
            ["orders", "audit"]
        );
        let only_orders = &bindings[..1];
        assert!(matches!(
            route(only_orders, "payment.failed"),
            Err(Error::Unroutable { routing_key }) if routing_key == "payment.failed"
        ));
        assert!(matches!(route(&bindings, ""), Err(Error::Invalid { .. })));
        assert!(matches!(
            route(&bindings, "order.*"),
            Err(Error::Invalid { .. })
        ));
    }

    fn words() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec("[a-c]{1,2}", 1..6)
    }

    proptest! {
        #[test]
        fn a_key_matches_itself(key in words()) {
            let key = key.join(".");
            prop_assert!(topic_matches(&key, &key));
        }

        #[test]
        fn hash_matches_everything(key in words()) {
            prop_assert!(topic_matches("#", &key.join(".")));
        }

        #[test]
        fn star_replaces_any_word(key in words(), index in any::<prop::sample::Index>()) {
            let mut pattern = key.clone();
            let i = index.index(pattern.len());
            pattern[i] = "*".to_owned();
            prop_assert!(topic_matches(&pattern.join("."), &key.join(".")));
        }

        #[test]
        fn hash_replaces_any_run_of_words(key in words(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
            let (mut start, mut end) = (a.index(key.len() + 1), b.index(key.len() + 1));
            if start > end { std::mem::swap(&mut start, &mut end); }
            let mut pattern: Vec<String> = key[..start].to_vec();
            pattern.push("#".to_owned());
            pattern.extend_from_slice(&key[end..]);
            prop_assert!(topic_matches(&pattern.join("."), &key.join(".")));
        }

        #[test]
        fn literal_patterns_match_only_equal_keys(pattern in words(), key in words()) {
            let (pattern, key) = (pattern.join("."), key.join("."));
            prop_assert_eq!(topic_matches(&pattern, &key), pattern == key);
        }

        #[test]
        fn stars_match_exactly_their_word_count(stars in 1usize..5, key in words()) {
            let pattern = vec!["*"; stars].join(".");
            prop_assert_eq!(topic_matches(&pattern, &key.join(".")), stars == key.len());
        }
    }
}
