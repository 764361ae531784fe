//! Where exports are read from and landed to: `s3://bucket/prefix` or a local folder.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::layout::normalize_prefix;

/// A bucket (or local root folder) plus a key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `s3://bucket[/prefix]`.
    S3 { bucket: String, prefix: String },
    /// A local folder (plain path or `file://`), served through the file system: the embedded
    /// default that needs no server.
    Local { root: PathBuf, prefix: String },
}

impl Location {
    /// Parses `s3://bucket[/prefix]`, `file:///path` or a plain path. Local paths are made
    /// absolute against the current directory; they need not exist yet.
    pub fn parse(s: &str) -> Result<Self> {
        let err = |reason: &str| Error::Location {
            location: s.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(err("no bucket name after s3://"));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: normalize_prefix(prefix),
            });
        }
        if s.contains("://") && !s.starts_with("file://") {
            return Err(err("only s3:// locations and local paths are supported"));
        }
        let path = s.strip_prefix("file://").unwrap_or(s);
        if path.is_empty() {
            return Err(err("empty path"));
        }
        let path = Path::new(path);
        let root = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| err(&format!("cannot resolve relative path: {e}")))?
                .join(path)
        };
        Ok(Location::Local {
            root,
            prefix: String::new(),
        })
    }

    /// The bucket name, or the local root folder as a string.
    pub fn bucket(&self) -> String {
        match self {
            Location::S3 { bucket, .. } => bucket.clone(),
            Location::Local { root, .. } => root.to_string_lossy().into_owned(),
        }
    }

    /// The key prefix: `""` or ending with `/`.
    pub fn prefix(&self) -> &str {
        match self {
            Location::S3 { prefix, .. } | Location::Local { prefix, .. } => prefix,
        }
    }

    /// Whether this is an `s3://` location.
    pub fn is_s3(&self) -> bool {
        matches!(self, Location::S3 { .. })
    }

    /// The same bucket with `child` appended to the prefix.
    pub fn join(&self, child: &str) -> Location {
        let prefix = normalize_prefix(&format!("{}{}", self.prefix(), child));
        match self {
            Location::S3 { bucket, .. } => Location::S3 {
                bucket: bucket.clone(),
                prefix,
            },
            Location::Local { root, .. } => Location::Local {
                root: root.clone(),
                prefix,
            },
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Location::Local { root, prefix } => write!(f, "{}/{prefix}", root.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_and_local() {
        assert_eq!(
            Location::parse("s3://landing/parking/").unwrap(),
            Location::S3 {
                bucket: "landing".into(),
                prefix: "parking/".into()
            }
        );
        assert_eq!(
            Location::parse("s3://exports").unwrap(),
            Location::S3 {
                bucket: "exports".into(),
                prefix: "".into()
            }
        );
        assert_eq!(
            Location::parse("file:///tmp/x").unwrap(),
            Location::Local {
                root: "/tmp/x".into(),
                prefix: "".into()
            }
        );
        assert!(matches!(
            Location::parse("rel/dir").unwrap(),
            Location::Local { root, .. } if root.is_absolute() && root.ends_with("rel/dir")
        ));
    }

    #[test]
    fn rejects_bad_locations_naming_them() {
        for bad in ["s3://", "s3:///key", "gs://bucket/x", ""] {
            let err = Location::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }
}
