//! Database connection settings, and the password kept out of logs and errors.

use std::fmt;
use std::path::PathBuf;

use mysql_async::{Opts, OptsBuilder, SslOpts};

use crate::error::{BoxError, RestoreError, Result};

/// A password that never prints: `Debug` and `Display` show `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(p: impl Into<String>) -> Self {
        Password(p.into())
    }

    /// The password itself, for the connection only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to reach the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlConfig {
    /// Host name or address. Default `127.0.0.1`.
    pub host: String,
    /// TCP port. Default 3306.
    pub port: u16,
    /// User. Default `root`.
    pub user: String,
    /// Password. Default empty.
    pub password: Password,
    /// Database the dump is loaded into (dropped and created first). Default `liberator`.
    pub db_name: String,
    /// Use TLS. Default `false` here (local servers); the `restore` binary defaults to `true`,
    /// since RDS should only be spoken to over TLS. With TLS a server that offers none is
    /// refused, and its certificate must chain to a trusted root and name [`Self::host`].
    pub tls: bool,
    /// CA bundle (PEM) to verify the server with, e.g. RDS's global bundle shipped in the
    /// image, trusted alongside the built-in web PKI roots (which RDS Proxy's ACM
    /// certificates chain to). Default `None`: the built-in roots only.
    pub ca_bundle: Option<PathBuf>,
}

impl Default for MysqlConfig {
    fn default() -> Self {
        MysqlConfig {
            host: "127.0.0.1".into(),
            port: 3306,
            user: "root".into(),
            password: Password::default(),
            db_name: "liberator".into(),
            tls: false,
            ca_bundle: None,
        }
    }
}

impl MysqlConfig {
    /// Connection options (no default database: the loader creates it).
    pub fn opts(&self) -> Opts {
        let mut b = OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass((!self.password.expose().is_empty()).then(|| self.password.expose().to_string()))
            .prefer_socket(false)
            .tcp_nodelay(true);
        if self.tls {
            let mut ssl = SslOpts::default();
            if let Some(ca) = &self.ca_bundle {
                ssl = ssl.with_root_certs(vec![ca.clone().into()]);
            }
            b = b.ssl_opts(Some(ssl));
        }
        Opts::from(b)
    }
}

/// Reads the password from a Secrets Manager secret: either the plain string, or a JSON
/// object with a `password` field (the shape RDS-managed secrets have).
#[tracing::instrument(skip_all, fields(secret_id = %secret_id))]
pub async fn password_from_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<Password> {
    let err = |source: BoxError| RestoreError::Secret {
        secret_id: secret_id.to_string(),
        source,
    };
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| err(e.into()))?;
    let raw = out
        .secret_string()
        .ok_or_else(|| err("secret has no string value".into()))?;
    Ok(Password::new(parse_secret(raw).ok_or_else(|| {
        err("secret JSON has no string `password` field".into())
    })?))
}

fn parse_secret(raw: &str) -> Option<String> {
    if raw.trim_start().starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(raw).ok()?;
        return v["password"].as_str().map(str::to_string);
    }
    Some(raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_prints() {
        let c = MysqlConfig {
            password: Password::new("hunter2"),
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(format!("{}", c.password), "***");
    }

    #[test]
    fn secret_shapes() {
        assert_eq!(parse_secret("plain").as_deref(), Some("plain"));
        assert_eq!(
            parse_secret(r#"{"username":"u","password":"p"}"#).as_deref(),
            Some("p")
        );
        assert_eq!(parse_secret(r#"{"username":"u"}"#), None);
    }
}
