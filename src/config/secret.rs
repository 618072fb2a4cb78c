//! Secrets (bearer tokens, bind passwords) and where they come from.
//!
//! A secret is a [`SecretString`]: its `Debug` prints `[REDACTED]`, so a
//! secret can sit in a config struct that gets logged without leaking. This
//! module resolves the four sources an operator can use — an inline value, a
//! file, an environment variable, or a systemd credential
//! (`$CREDENTIALS_DIRECTORY/NAME`, set by `LoadCredential=`) — and warns about
//! files that other users can read.

use std::path::{Path, PathBuf};

pub use secrecy::{ExposeSecret, SecretString};

/// The places one secret setting may be read from; a valid setting uses
/// exactly one.
pub struct Sources<'a> {
    pub value: Option<&'a String>,
    pub file: Option<&'a PathBuf>,
    /// The name of an environment variable holding the secret.
    pub env: Option<&'a String>,
    /// The name of a systemd credential.
    pub credential: Option<&'a String>,
}

impl Sources<'_> {
    /// How many of the sources are set.
    pub fn count(&self) -> usize {
        [
            self.value.is_some(),
            self.file.is_some(),
            self.env.is_some(),
            self.credential.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count()
    }

    /// Reads the secret from the first source set: environment variables
    /// through `var`, credentials from `credentials_dir`; a file that other
    /// users can read adds a warning.
    pub fn read(
        &self,
        var: impl Fn(&str) -> Option<String>,
        credentials_dir: Option<&Path>,
        warnings: &mut Vec<String>,
    ) -> Result<SecretString, String> {
        if let Some(v) = self.value {
            Ok(SecretString::from(v.clone()))
        } else if let Some(f) = self.file {
            read_private_file(f, warnings)
        } else if let Some(name) = self.env {
            var(name)
                .map(SecretString::from)
                .ok_or_else(|| format!("environment variable {name} is not set"))
        } else if let Some(c) = self.credential {
            read_credential(c, credentials_dir)
        } else {
            Err("no source".to_owned())
        }
    }
}

/// Reads a secret file; one that other users can read adds a warning.
pub fn read_private_file(f: &Path, warnings: &mut Vec<String>) -> Result<SecretString, String> {
    if let Some(w) = permission_warning(f) {
        warnings.push(w);
    }
    read_file(f)
}

/// Reads a secret from a file, dropping one trailing newline (editors add it).
pub fn read_file(path: &Path) -> Result<SecretString, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

/// Reads a systemd credential by name from `$CREDENTIALS_DIRECTORY`.
pub fn read_credential(name: &str, credentials_dir: Option<&Path>) -> Result<SecretString, String> {
    let dir = credentials_dir
        .ok_or_else(|| format!("credential {name:?} requested but $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)"))?;
    if name.contains('/') || name.is_empty() {
        return Err(format!(
            "credential name {name:?} must be a plain file name"
        ));
    }
    read_file(&dir.join(name))
}

/// A warning when `path` is readable by group or others (Unix only).
pub fn permission_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} is readable by group or others (mode {:o}); it holds secrets, chmod 600 it",
            path.display(),
            mode & 0o777
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let s = SecretString::from("hunter2".to_owned());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.expose_secret(), "hunter2");
    }

    #[test]
    fn file_secret_trims_one_newline_and_warns_on_open_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("scim2ldap-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("tok");
        std::fs::write(&p, "abc\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_file(&p).unwrap().expose_secret(), "abc");
        assert!(permission_warning(&p).unwrap().contains("chmod 600"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(permission_warning(&p).is_none());
        std::fs::write(&p, "\n").unwrap();
        assert!(read_file(&p).unwrap_err().contains("empty"));
        assert!(
            read_credential("tok", None)
                .unwrap_err()
                .contains("CREDENTIALS_DIRECTORY")
        );
        assert_eq!(
            read_credential("tok", Some(&dir)).unwrap_err(),
            format!("{} is empty", p.display())
        );
        assert!(read_credential("../x", Some(&dir)).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
