//! Configuration errors that say which key is wrong and why.

use std::fmt;

use figment::error::Kind;

/// The configuration could not be loaded or is not valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// One or more values have the wrong type or shape, or a key is unknown or missing.
    #[error("invalid configuration:\n{}", bullets(.problems))]
    Invalid {
        /// One line per problem, each naming its key.
        problems: Vec<String>,
    },
    /// `SEAM_ENV` names an environment whose file does not exist.
    #[error("{var}={environment} but {path} does not exist (create it, or unset {var})")]
    MissingEnvironmentFile {
        /// The variable that named the environment.
        var: &'static str,
        /// The environment named.
        environment: String,
        /// The file that was expected.
        path: String,
    },
}

fn bullets(problems: &[String]) -> String {
    problems
        .iter()
        .map(|problem| format!("  - {problem}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// The problems found, one line each.
    pub fn problems(&self) -> Vec<String> {
        match self {
            Self::Invalid { problems } => problems.clone(),
            other => vec![other.to_string()],
        }
    }

    pub(crate) fn from_figment(error: figment::Error) -> Self {
        let problems = error.into_iter().map(describe).collect();
        Self::Invalid { problems }
    }
}

/// One figment error as "`key`: what is wrong (from where)".
fn describe(error: figment::Error) -> String {
    let mut path = error.path.clone();
    let what = match &error.kind {
        Kind::UnknownField(field, expected) => {
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            format!("unknown key; expected one of {}", one_of(expected))
        }
        Kind::MissingField(field) => {
            if path.last().map(String::as_str) != Some(field.as_ref()) {
                path.push(field.to_string());
            }
            "missing required value".to_owned()
        }
        Kind::UnknownVariant(found, expected) => {
            format!(
                "unknown value {found:?}; expected one of {}",
                one_of(expected)
            )
        }
        Kind::InvalidType(actual, expected) => format!("expected {expected}, found {actual}"),
        Kind::InvalidValue(actual, expected) => format!("expected {expected}, found {actual}"),
        Kind::InvalidLength(length, expected) => {
            format!("expected {expected}, found a length of {length}")
        }
        Kind::Message(message) => message.clone(),
        other => other.to_string(),
    };
    let key = if path.is_empty() {
        "(top level)".to_owned()
    } else {
        path.join(".")
    };
    let source = error
        .metadata
        .as_ref()
        .map(|metadata| match &metadata.source {
            Some(figment::Source::File(file)) => format!("{} {}", metadata.name, file.display()),
            // figment's own interpolation loses the prefix and the `__` separators.
            _ if metadata.name.contains("environment") => format!(
                "environment variable {}{}",
                crate::loader::ENV_PREFIX,
                path.join("__").to_uppercase()
            ),
            _ => metadata.name.to_string(),
        });
    match source {
        Some(source) => format!("`{key}`: {what} (from {source})"),
        None => format!("`{key}`: {what}"),
    }
}

fn one_of(names: &[&str]) -> String {
    struct List<'a>(&'a [&'a str]);
    impl fmt::Display for List<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (index, name) in self.0.iter().enumerate() {
                if index > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "`{name}`")?;
            }
            Ok(())
        }
    }
    List(names).to_string()
}
