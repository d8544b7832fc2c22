//! Configuration loading: built-in defaults, then an optional YAML file, then environment variables
//! named `{PREFIX}{KEY}` with `__` between nested keys (for example
//! `FECHATTER_SERVER__DATABASE__URL`).

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Yaml};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Loads a service configuration.
///
/// `env_prefix` is the service's own prefix including the trailing `__`, such as
/// `FECHATTER_SERVER__`. A missing `file` is an error, because a typo in `--config` should not
/// silently fall back to defaults.
pub fn load<T>(file: Option<&Path>, env_prefix: &str) -> anyhow::Result<T>
where
    T: Default + Serialize + DeserializeOwned,
{
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(path) = file {
        if !path.exists() {
            anyhow::bail!("configuration file {} not found", path.display());
        }
        figment = figment.merge(Yaml::file(path));
    }
    let config = figment
        .merge(Env::prefixed(env_prefix).split("__"))
        .extract()?;
    Ok(config)
}

/// Logs the effective configuration at start-up, with passwords inside URLs replaced by `***`.
pub fn log_effective<T: Serialize>(service: &str, config: &T) {
    match serde_json::to_value(config) {
        Ok(mut value) => {
            redact_urls(&mut value);
            tracing::info!(service, config = %value, "effective configuration");
        }
        Err(err) => tracing::warn!(error = %err, "failed to render the configuration"),
    }
}

fn redact_urls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => {
            if let Some((scheme, rest)) = text.split_once("://")
                && let Some((credentials, host)) = rest.split_once('@')
                && let Some((user, _password)) = credentials.split_once(':')
            {
                *text = format!("{scheme}://{user}:***@{host}");
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_urls),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_urls),
        _ => {}
    }
}

/// NATS settings shared by the services that publish or consume events.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URL.
    pub url: String,
    /// JetStream stream that stores domain events.
    pub stream: String,
    /// First token of every subject: events go to `{prefix}.events.{workspace_id}.{kind}` and
    /// signals to `{prefix}.signals.{workspace_id}.{kind}`.
    pub subject_prefix: String,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            stream: "FECHATTER_EVENTS".into(),
            subject_prefix: "fechatter".into(),
        }
    }
}

/// Redis settings.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    pub url: String,
    /// Prefix of every key the services write, so several deployments can share one server.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "fechatter:".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default)]
    struct Sample {
        nats: NatsConfig,
        port: u16,
    }

    #[test]
    fn load_layers_file_over_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sample.yaml");
        std::fs::write(&path, "port: 7000\nnats:\n  stream: OTHER\n").expect("write config");
        let config: Sample = load(Some(&path), "FECHATTER_CONFIG_TEST_UNUSED__").expect("load");
        assert_eq!(config.port, 7000);
        assert_eq!(config.nats.stream, "OTHER");
        assert_eq!(config.nats.url, "nats://127.0.0.1:4222");
    }

    #[test]
    fn redact_hides_url_password() {
        let mut value = serde_json::json!({"db": {"url": "postgres://app:secret@db:5432/x"}});
        redact_urls(&mut value);
        assert_eq!(value["db"]["url"], "postgres://app:***@db:5432/x");
    }

    #[test]
    fn load_rejects_missing_file() {
        let result: anyhow::Result<Sample> = load(Some(Path::new("/nonexistent.yaml")), "X__");
        assert!(result.is_err());
    }
}
