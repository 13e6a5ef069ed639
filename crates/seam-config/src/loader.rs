//! Merging the layers.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::de::DeserializeOwned;

use crate::error::ConfigError;

/// The prefix of every configuration environment variable.
pub const ENV_PREFIX: &str = "SEAM_";
/// The variable naming the environment overlay (`config/<name>.toml`).
pub const ENVIRONMENT_VAR: &str = "SEAM_ENV";
/// The variable naming the configuration folder (default `config`).
pub const CONFIG_DIR_VAR: &str = "SEAM_CONFIG_DIR";

/// Semantic checks that serde cannot express (ranges, combinations of keys).
pub trait Validate {
    /// Every problem found, each naming its key; empty when valid.
    fn problems(&self) -> Vec<String>;
}

/// Loads a typed configuration from the layers described in the crate docs.
///
/// The compiled-in defaults are the target type's: give it `#[serde(default)]` (on
/// every nested struct too) so that any key left out keeps its `Default`.
#[derive(Debug, Clone)]
pub struct ConfigLoader {
    dir: PathBuf,
    environment: Option<String>,
    read_env: bool,
}

impl Default for ConfigLoader {
    fn default() -> Self {
        Self::from_env()
    }
}

impl ConfigLoader {
    /// A loader whose folder and environment come from `SEAM_CONFIG_DIR` and `SEAM_ENV`.
    pub fn from_env() -> Self {
        let dir = std::env::var_os(CONFIG_DIR_VAR)
            .filter(|dir| !dir.is_empty())
            .map_or_else(|| PathBuf::from("config"), PathBuf::from);
        let environment = std::env::var(ENVIRONMENT_VAR)
            .ok()
            .filter(|name| !name.trim().is_empty());
        Self {
            dir,
            environment,
            read_env: true,
        }
    }

    /// Reads files from `dir` instead.
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    /// Uses the overlay `<dir>/<environment>.toml`, or none.
    pub fn with_environment(mut self, environment: Option<String>) -> Self {
        self.environment = environment;
        self
    }

    /// Ignores `SEAM_*` environment variables (for tests and tools).
    pub fn without_env_vars(mut self) -> Self {
        self.read_env = false;
        self
    }

    /// The folder read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The environment overlay used, if any.
    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// The merged layers, before extraction. Useful to add a layer of one's own.
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingEnvironmentFile`] when the overlay named by the
    /// environment does not exist.
    pub fn figment(&self) -> Result<Figment, ConfigError> {
        // Compiled-in defaults are not a figment layer: the target types carry
        // `#[serde(default)]`, so missing keys take their `Default`. (Serialising the
        // defaults into a layer would turn every default secret into "[REDACTED]".)
        let mut figment = Figment::new().merge(Toml::file(self.dir.join("default.toml")));
        if let Some(environment) = &self.environment {
            let path = self.dir.join(format!("{environment}.toml"));
            if !path.is_file() {
                return Err(ConfigError::MissingEnvironmentFile {
                    var: ENVIRONMENT_VAR,
                    environment: environment.clone(),
                    path: path.display().to_string(),
                });
            }
            figment = figment.merge(Toml::file(path));
        }
        if self.read_env {
            figment = figment.merge(
                Env::prefixed(ENV_PREFIX)
                    .split("__")
                    .ignore(&["env", "config_dir"]),
            );
        }
        Ok(figment)
    }

    /// Loads and validates `T`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] listing every problem, each naming its key and where
    /// the value came from; [`ConfigError::MissingEnvironmentFile`] as for
    /// [`ConfigLoader::figment`].
    pub fn load<T>(&self) -> Result<T, ConfigError>
    where
        T: DeserializeOwned + Validate,
    {
        let value: T = self
            .figment()?
            .extract()
            .map_err(ConfigError::from_figment)?;
        let problems = value.problems();
        if problems.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }
}
