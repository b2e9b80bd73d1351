//! Resolving a run: `vars` with their overrides, secrets (from the environment, `--env-file`,
//! files, or a sandbox's stand-ins), and each provider's settings rendered for the target.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;

use super::target::{SandboxTarget, Target};
use crate::plan::model::{Plan, Provider};
use crate::plan::raw::{self, CxoneAuth, GenesysAuth, HttpAuth, SecretSource};
use crate::provider::auth::Credentials;
use crate::provider::connection::Settings;
use crate::provider::{ProviderKind, cxone};
use crate::runner::render::{self, Renderer};

/// Why a run could not be resolved (nothing was sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// `--env-file` could not be read.
    #[error("--env-file {path}: {message}")]
    EnvFile {
        /// The file.
        path: String,
        /// What is wrong (never a value).
        message: String,
    },
    /// A `--var` is malformed or names no declared var.
    #[error("{0}")]
    Var(String),
    /// Secrets are not set.
    #[error(
        "secrets not set: {0}; set them, or use --env-file, or run against the sandbox with --sandbox"
    )]
    SecretsNotSet(String),
    /// A provider setting did not render.
    #[error("provider `{provider}`: {message}")]
    Provider {
        /// The provider.
        provider: String,
        /// What failed.
        message: String,
    },
    /// A template outside the providers did not render.
    #[error("{0}")]
    Template(String),
}

/// `--env-file` holds a handful of credentials; anything larger is refused before it is read.
const MAX_ENV_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a dotenv file (at most [`MAX_ENV_FILE_BYTES`]). Errors name the line and the key,
/// never the value: the file holds secrets, and dotenvy's own message quotes the whole line.
pub(super) fn env_file(path: &Path) -> Result<HashMap<String, String>, ResolveError> {
    let fail = |message: String| ResolveError::EnvFile {
        path: path.display().to_string(),
        message,
    };
    let unreadable = |e: std::io::Error| fail(crate::plan::io_reason(&e));
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let bytes = crate::plan::read_capped(file, MAX_ENV_FILE_BYTES)
        .map_err(unreadable)?
        .ok_or_else(|| {
            fail(format!(
                "larger than {} MiB; an env file holds `NAME=value` lines",
                MAX_ENV_FILE_BYTES / (1024 * 1024)
            ))
        })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = line_of(&e.as_bytes()[..e.utf8_error().valid_up_to()]);
        fail(format!("line {line}: not UTF-8 text"))
    })?;
    dotenvy::from_read_iter(text.as_bytes())
        .map(|item| {
            item.map_err(|e| match e {
                dotenvy::Error::LineParse(bad, _) => fail(line_parse_message(&text, &bad)),
                dotenvy::Error::Io(e) => unreadable(e),
                // Substitution reads the environment; its error names a variable, not a value.
                other => fail(other.to_string()),
            })
        })
        .collect()
}

/// 1-based line number of the end of `before`.
fn line_of(before: &[u8]) -> usize {
    before.iter().filter(|&&b| b == b'\n').count() + 1
}

/// Where a dotenv line that does not parse is, and its key when it has one.
fn line_parse_message(text: &str, bad: &str) -> String {
    // dotenvy hands back the offending entry (several lines for a quoted value that spans them,
    // or one never closed): the message names the line the entry starts on.
    let at = text.find(bad).unwrap_or(0);
    let line = line_of(&text.as_bytes()[..at]);
    let key = bad
        .split_once('=')
        .map(|(k, _)| k.trim().trim_start_matches("export ").trim())
        .filter(|k| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        });
    match key {
        Some(key) => format!(
            "line {line}: the value of `{key}` does not parse (check its quotes and escapes)"
        ),
        None => format!("line {line}: expected `NAME=value`"),
    }
}

/// `vars` with `CALLPLAN_VAR_<NAME>` and then `--var name=value` applied (values are strings;
/// only declared vars).
pub(super) fn vars(
    plan: &Plan,
    overrides: &[String],
) -> Result<IndexMap<String, serde_json::Value>, ResolveError> {
    let mut vars = plan.vars.clone();
    for (name, value) in vars.iter_mut() {
        // The name as the plan writes it, or in upper case (the way environments are written).
        let exact = std::env::var(format!("CALLPLAN_VAR_{name}"));
        let upper = || std::env::var(format!("CALLPLAN_VAR_{}", name.to_ascii_uppercase()));
        if let Ok(text) = exact.or_else(|_| upper()) {
            *value = serde_json::Value::String(text);
        }
    }
    for text in overrides {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| ResolveError::Var(format!("--var `{text}`: write it as name=value")))?;
        let name = name.trim();
        if !vars.contains_key(name) {
            let known: Vec<&str> = vars.keys().map(String::as_str).collect();
            let hint = crate::diagnostic::did_you_mean(name, known.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(ResolveError::Var(format!(
                "--var {name}: the plan declares no var `{name}`{hint}; declared: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
        vars.insert(name.to_owned(), serde_json::Value::String(value.to_owned()));
    }
    Ok(vars)
}

/// The secret a template is exactly `{{ secrets.NAME }}` of.
fn sole_secret(template: &str) -> Option<&str> {
    let inner = template
        .trim()
        .strip_prefix("{{")?
        .strip_suffix("}}")?
        .trim();
    let name = inner.strip_prefix("secrets.")?;
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then_some(name)
}

/// Credential fields of a provider, as (field, template).
fn credential_fields(provider: &raw::Provider) -> Vec<(&'static str, &str)> {
    match provider {
        raw::Provider::GenesysCloud(p) => match &p.auth {
            GenesysAuth::ClientCredentials {
                client_id,
                client_secret,
            } => vec![("client_id", client_id), ("client_secret", client_secret)],
            GenesysAuth::Bearer { token } => vec![("token", token)],
        },
        raw::Provider::NiceCxone(p) => match &p.auth {
            CxoneAuth::Password {
                access_key_id,
                access_key_secret,
                client_id,
                client_secret,
            } => vec![
                ("access_key_id", access_key_id),
                ("access_key_secret", access_key_secret),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ],
        },
        raw::Provider::Http(p) => match &p.auth {
            None | Some(HttpAuth::None) => Vec::new(),
            Some(HttpAuth::Bearer { token }) => vec![("token", token)],
            Some(HttpAuth::Basic { username, password }) => {
                vec![("username", username), ("password", password)]
            }
            Some(HttpAuth::Oauth2ClientCredentials {
                client_id,
                client_secret,
                ..
            }) => vec![("client_id", client_id), ("client_secret", client_secret)],
        },
    }
    .into_iter()
    .map(|(f, t)| (f, t.as_str()))
    .collect()
}

fn describe(name: &str, source: &SecretSource) -> String {
    match source {
        SecretSource::Env(var) => format!("`{name}` (environment variable {var})"),
        SecretSource::File(path) => format!("`{name}` (file {path})"),
    }
}

/// A sandbox's stand-in for a secret: the credential it fills, or a fixed placeholder.
fn stand_in(plan: &Plan, sandbox: &SandboxTarget, name: &str) -> String {
    plan.providers
        .values()
        .find_map(|provider| {
            credential_fields(&provider.config)
                .into_iter()
                .find(|(_, template)| sole_secret(template) == Some(name))
                .map(|(field, _)| sandbox.stand_ins.field(provider.kind, field))
        })
        .unwrap_or_else(|| format!("sandbox-{name}"))
}

/// Every declared secret's value. Against the built-in sandbox none is read: each gets the
/// sandbox's stand-in. Against a sandbox at a URL, unset ones do.
pub(super) fn secrets(
    plan: &Plan,
    env_file: &HashMap<String, String>,
    target: &Target,
    notes: &mut Vec<String>,
) -> Result<IndexMap<String, String>, ResolveError> {
    let mut values = IndexMap::new();
    if let Target::Sandbox(sandbox) = target
        && sandbox.built_in.is_some()
    {
        for name in plan.secrets.keys() {
            values.insert(name.clone(), stand_in(plan, sandbox, name));
        }
        if !plan.secrets.is_empty() {
            let names: Vec<String> = plan.secrets.keys().map(|n| format!("`{n}`")).collect();
            notes.push(format!(
                "the sandbox's own credentials stand in for the plan's; no secret is read ({})",
                names.join(", ")
            ));
        }
        return Ok(values);
    }
    let base = plan.path.parent().unwrap_or(Path::new("."));
    let mut missing = Vec::new();
    for (name, source) in &plan.secrets {
        let value = match source {
            SecretSource::Env(var) => env_file
                .get(var)
                .cloned()
                .or_else(|| std::env::var(var).ok())
                .filter(|v| !v.is_empty()),
            SecretSource::File(path) => std::fs::read_to_string(base.join(path))
                .ok()
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .filter(|v| !v.is_empty()),
        };
        match value {
            Some(v) => {
                values.insert(name.clone(), v);
            }
            None => missing.push((name.clone(), source.clone())),
        }
    }
    if missing.is_empty() {
        return Ok(values);
    }
    let Target::Sandbox(sandbox) = target else {
        let list: Vec<String> = missing.iter().map(|(n, s)| describe(n, s)).collect();
        return Err(ResolveError::SecretsNotSet(list.join(", ")));
    };
    let mut supplied = Vec::new();
    for (name, source) in &missing {
        values.insert(name.clone(), stand_in(plan, sandbox, name));
        supplied.push(describe(name, source));
    }
    notes.push(format!(
        "secrets not set, the sandbox supplies its own: {}",
        supplied.join(", ")
    ));
    Ok(values)
}

/// A dry run's secrets: none is read, each is its placeholder (`<secret NAME>`).
pub(super) fn planned_secrets(plan: &Plan) -> IndexMap<String, String> {
    plan.secrets
        .keys()
        .map(|name| (name.clone(), crate::placeholder::secret(name)))
        .collect()
}

/// What provider settings may read.
pub(super) struct Scope<'a> {
    pub(super) vars: &'a IndexMap<String, serde_json::Value>,
    pub(super) secrets: &'a IndexMap<String, String>,
    pub(super) run: &'a serde_json::Value,
}

/// Renders a provider's settings (URLs and credentials are templates over vars, secrets, run)
/// for the target.
pub(super) fn provider_settings(
    renderer: &Renderer,
    name: &str,
    provider: &Provider,
    scope: &Scope<'_>,
    target: &Target,
) -> Result<Settings, ResolveError> {
    let context = minijinja::Value::from_pairs([
        ("vars", render::value(scope.vars)),
        ("secrets", render::value(scope.secrets)),
        ("run", render::value(scope.run)),
    ]);
    let sandbox = match target {
        Target::Plan => None,
        Target::Sandbox(s) => Some(s),
    };
    // The built-in sandbox's credentials replace the plan's, literal ones included.
    let built_in = sandbox.filter(|s| s.built_in.is_some());
    let fail = |message: String| ResolveError::Provider {
        provider: name.to_owned(),
        message,
    };
    let r = |template: &str, what: &str| {
        renderer
            .render_text(template, &context)
            .map_err(|e| fail(format!("{what}: {e}")))
    };
    let credential = |template: &str, field: &str| match built_in {
        Some(s) => Ok(s.stand_ins.field(provider.kind, field)),
        None => r(template, &format!("auth.{field}")),
    };
    let opt = |template: &Option<String>, what: &str| -> Result<Option<String>, ResolveError> {
        template.as_deref().map(|t| r(t, what)).transpose()
    };
    let (api_base, discovery_base, api_version, headers, credentials) = match &provider.config {
        raw::Provider::GenesysCloud(p) => {
            let region = opt(&p.region, "region")?.unwrap_or_else(|| "mypurecloud.com".into());
            let base = opt(&p.base_url, "base_url")?;
            let login = opt(&p.login_url, "login_url")?;
            let (api, login) = match sandbox {
                Some(s) => (s.url.clone(), s.url.clone()),
                None => (
                    base.clone()
                        .unwrap_or_else(|| format!("https://api.{region}")),
                    login
                        .or(base)
                        .unwrap_or_else(|| format!("https://login.{region}")),
                ),
            };
            let credentials = match &p.auth {
                GenesysAuth::ClientCredentials {
                    client_id,
                    client_secret,
                } => Credentials::GenesysClient {
                    login_base: login,
                    client_id: credential(client_id, "client_id")?,
                    client_secret: credential(client_secret, "client_secret")?,
                },
                GenesysAuth::Bearer { token } => Credentials::Bearer {
                    token: credential(token, "token")?,
                },
            };
            (Some(api), None, String::new(), Vec::new(), credentials)
        }
        raw::Provider::NiceCxone(p) => {
            let auth_url = match sandbox {
                Some(s) => s.url.clone(),
                None => opt(&p.auth_url, "auth_url")?
                    .unwrap_or_else(|| cxone::DEFAULT_AUTH_URL.to_owned()),
            };
            let base = match sandbox {
                // Discovery through the sandbox's cxone-configuration, as against a real tenant.
                Some(_) => None,
                None => opt(&p.base_url, "base_url")?,
            };
            let version = opt(&p.api_version, "api_version")?
                .unwrap_or_else(|| cxone::DEFAULT_API_VERSION.to_owned());
            let CxoneAuth::Password {
                access_key_id,
                access_key_secret,
                client_id,
                client_secret,
            } = &p.auth;
            let credentials = Credentials::CxonePassword {
                auth_base: auth_url.clone(),
                access_key_id: credential(access_key_id, "access_key_id")?,
                access_key_secret: credential(access_key_secret, "access_key_secret")?,
                client_id: credential(client_id, "client_id")?,
                client_secret: credential(client_secret, "client_secret")?,
            };
            (base, Some(auth_url), version, Vec::new(), credentials)
        }
        raw::Provider::Http(p) => {
            let base = match sandbox {
                Some(s) => s.http_base(name),
                None => r(&p.base_url, "base_url")?,
            };
            let mut headers = Vec::new();
            for (k, v) in &p.headers {
                headers.push((k.clone(), r(v, &format!("headers.{k}"))?));
            }
            let credentials = match &p.auth {
                None | Some(HttpAuth::None) => Credentials::None,
                Some(HttpAuth::Bearer { token }) => Credentials::Bearer {
                    token: credential(token, "token")?,
                },
                Some(HttpAuth::Basic { username, password }) => Credentials::Basic {
                    username: credential(username, "username")?,
                    password: credential(password, "password")?,
                },
                Some(HttpAuth::Oauth2ClientCredentials {
                    token_url,
                    client_id,
                    client_secret,
                    scope,
                    audience,
                }) => Credentials::OAuth2 {
                    token_url: match sandbox {
                        Some(s) => s.oauth2_token_url(),
                        None => r(token_url, "auth.token_url")?,
                    },
                    client_id: credential(client_id, "client_id")?,
                    client_secret: credential(client_secret, "client_secret")?,
                    scope: opt(scope, "auth.scope")?,
                    audience: opt(audience, "auth.audience")?,
                },
            };
            (Some(base), None, String::new(), headers, credentials)
        }
    };
    Ok(Settings {
        name: name.to_owned(),
        kind: provider.kind,
        api_base,
        discovery_base,
        api_version,
        headers,
        // Genesys's client-credentials tokens are limited to 300 requests a minute by default;
        // a plan that says nothing is paced to that.
        rate_limit: provider.rate_limit.or_else(|| {
            matches!(credentials, Credentials::GenesysClient { .. }).then_some(
                crate::provider::pacing::Limit {
                    requests: 300,
                    per: Duration::from_secs(60),
                    burst: None,
                },
            )
        }),
        credentials,
        timeout: provider.timeout,
        // The plan's word first; a sandbox this run started knows its own indexing delay.
        reconcile_delay: provider
            .reconcile_delay
            .or(sandbox.and_then(|s| s.reconcile_delay))
            .unwrap_or_else(|| crate::provider::reconcile::default_delay(provider.kind)),
    })
}

/// The provider kind's word for where to look after a failed login.
pub(super) fn auth_keys(name: &str, provider: &Provider) -> String {
    let keys: Vec<String> = credential_fields(&provider.config)
        .into_iter()
        .map(|(field, _)| format!("`providers.{name}.auth.{field}`"))
        .collect();
    let place = match provider.kind {
        ProviderKind::GenesysCloud => format!(" and `providers.{name}.region` (or `login_url`)"),
        ProviderKind::NiceCxone => format!(" and `providers.{name}.auth_url`"),
        ProviderKind::Http => String::new(),
    };
    if keys.is_empty() {
        format!("`providers.{name}.auth`{place}")
    } else {
        format!("{}{place}", keys.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sole_secret_reference_is_recognized() {
        assert_eq!(
            sole_secret("{{ secrets.gc_client_id }}"),
            Some("gc_client_id")
        );
        assert_eq!(sole_secret("{{secrets.x}}"), Some("x"));
        assert_eq!(sole_secret("Bearer {{ secrets.x }}"), None);
        assert_eq!(sole_secret("{{ vars.x }}"), None);
    }

    #[test]
    fn env_file_errors_name_the_line_and_key_never_the_value() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(
            &mut file,
            b"# credentials\nGOOD=1\nAPI_TOKEN='s3cr3t-value\n",
        )
        .expect("write");
        let err = env_file(file.path())
            .expect_err("unterminated quote")
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("`API_TOKEN`"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn env_file_reads_values_and_refuses_a_device_without_end() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut file, b"A=1\nexport B=\"two\"\n").expect("write");
        let vars = env_file(file.path()).expect("valid");
        assert_eq!(vars.get("B").map(String::as_str), Some("two"));
        if Path::new("/dev/zero").exists() {
            let err = env_file(Path::new("/dev/zero"))
                .expect_err("endless")
                .to_string();
            assert!(err.contains("larger than 1 MiB"), "{err}");
        }
    }
}
