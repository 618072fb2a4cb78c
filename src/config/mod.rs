//! The validated configuration.
//!
//! [`Config::load`] reads the TOML file, applies the `SCIM2LDAP_*` environment
//! overrides, resolves secrets, compiles the attribute maps, and reports every
//! problem at once, one line each, naming the key. Defaults are typed
//! constants with the reason for their value next to them.

pub mod file;
pub mod secret;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secret::SecretString;

use crate::mapping::{self, AttrMap};
use crate::scim::ResourceKind;

/// Listen on loopback unless told otherwise: the daemon fronts a directory.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The path Entra's docs and most SCIM clients use.
pub const DEFAULT_BASE_PATH: &str = "/scim/v2";
/// 1 MiB: a 1,000-member PATCH is about 60 KiB; anything far larger is abuse.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Entra pages at 100; 1,000 keeps one response's memory bounded.
pub const DEFAULT_MAX_PAGE_SIZE: usize = 1000;
/// Page size when a client gives no `count`.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Where the directory cannot fetch a page by offset (VLV), a list request
/// reads every match to count and cut it; 10,000 entries take about 0.1 s,
/// past that a client should filter (or the directory get a VLV index).
pub const DEFAULT_MAX_LIST_ENTRIES: usize = 10_000;
/// Enough bound connections to keep two cores busy; operations multiplex on them.
pub const DEFAULT_POOL_SIZE: usize = 4;
/// Long enough for a large modify on a loaded server, short enough that Entra retries.
pub const DEFAULT_LDAP_TIMEOUT: Duration = Duration::from_secs(10);
/// An earlier URL that failed is checked this often: a recovered supplier gets
/// its connections back within half a minute, and a down one costs one probe.
pub const DEFAULT_FAILBACK: Duration = Duration::from_secs(30);
/// Past this many requests in flight clients get 429 and retry.
pub const DEFAULT_MAX_CONCURRENT: usize = 256;
/// The most worker threads `server.threads` accepts.
pub const MAX_THREADS: usize = 256;
/// Entra gives up on a request after about a minute; answer well before.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `[server]`, validated.
#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    pub base_path: String,
    pub public_discovery: bool,
    pub public_metrics: bool,
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    pub max_page_size: usize,
    pub default_page_size: usize,
    /// Most entries one list request may read where the directory cannot
    /// page by offset; past it the answer is 400 tooMany.
    pub max_list_entries: usize,
    pub log_format: LogFormat,
    pub max_concurrent_requests: usize,
    /// Worker threads; `None` means one per CPU.
    pub threads: Option<usize>,
    pub request_timeout: Duration,
    /// HTTPS settings; `None` means plain HTTP.
    pub tls: Option<Tls>,
}

/// `[server]` HTTPS files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// A named bearer token.
#[derive(Debug, Clone)]
pub struct Token {
    pub name: String,
    pub secret: SecretString,
}

/// `[ldap]`, validated.
#[derive(Debug, Clone)]
pub struct Ldap {
    pub urls: Vec<String>,
    pub bind_dn: String,
    pub bind_password: SecretString,
    pub pool_size: usize,
    pub timeout: Duration,
    /// How often an earlier URL that failed is tried again (fail-back).
    pub failback: Duration,
    pub starttls: bool,
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_verify: bool,
    pub vlv: Vlv,
}

/// Whether list pages are fetched by offset (VLV) where the server offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vlv {
    Auto,
    Off,
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: Server,
    pub tokens: Vec<Token>,
    pub ldap: Ldap,
    pub users: AttrMap,
    pub groups: Option<AttrMap>,
    /// Declared custom extensions: URN → (name, description, required).
    pub extensions: BTreeMap<String, file::Extension>,
    /// Non-fatal findings (loose file modes, insecure TLS) to log at start-up.
    pub warnings: Vec<String>,
}

/// Every problem found in a configuration, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct Problems(pub Vec<String>);

/// The process environment as the loader sees it (a function, so tests can fake it).
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Config {
    /// Reads and validates `path` with overrides from `env`.
    pub fn load(path: &Path, env: &dyn Environment) -> Result<Config, Problems> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problems(vec![format!(
                "cannot read config file {}: {e}",
                path.display()
            )])
        })?;
        let mut config = Config::parse(&text, env)?;
        // Only a file that holds secrets itself must be private.
        let inline = toml::from_str::<file::File>(&text).is_ok_and(|raw| {
            raw.auth.token.is_some()
                || raw.auth.tokens.iter().any(|t| t.value.is_some())
                || raw.ldap.bind_password.is_some()
        });
        if inline {
            if let Some(w) = secret::permission_warning(path) {
                config.warnings.push(w);
            }
        }
        Ok(config)
    }

    /// Validates TOML text with overrides from `env`.
    pub fn parse(text: &str, env: &dyn Environment) -> Result<Config, Problems> {
        let raw: file::File = toml::from_str(text).map_err(|e| Problems(vec![toml_problem(&e)]))?;
        let mut p = Vec::new();
        let mut warnings = Vec::new();
        let server = server(&raw.server, env, &mut p);
        let tokens = tokens(&raw.auth, env, &mut p, &mut warnings);
        let ldap = ldap(&raw.ldap, env, &mut p, &mut warnings);
        for urn in raw.extensions.keys() {
            if !urn.to_ascii_lowercase().starts_with("urn:") {
                p.push(format!(
                    "extensions.{urn:?}: an extension is named by its schema URN (urn:...)"
                ));
            }
        }
        let ext: Vec<String> = raw.extensions.keys().cloned().collect();
        let users = match &raw.users {
            Some(u) => mapping::compile(ResourceKind::User, u, &ext, &mut p),
            None => {
                p.push(
                    "[users]: section missing; it says where and how SCIM Users are stored"
                        .to_owned(),
                );
                None
            }
        };
        let groups = raw
            .groups
            .as_ref()
            .and_then(|g| mapping::compile(ResourceKind::Group, g, &ext, &mut p));
        if let (Some(u), Some(g)) = (&users, &groups) {
            if u.base.is_within(&g.base) || g.base.is_within(&u.base) {
                p.push(format!(
                    "groups.base: {} and users.base {} overlap; give users and groups separate subtrees",
                    g.base, u.base
                ));
            }
        }
        if let Some(u) = &users {
            mapping::allocate::check_across(u, groups.as_ref(), &mut p);
        }
        match (users, p.is_empty()) {
            (Some(users), true) => Ok(Config {
                server,
                tokens,
                ldap,
                users,
                groups,
                extensions: raw.extensions,
                warnings,
            }),
            _ => Err(Problems(p)),
        }
    }

    /// The attribute map for a resource kind, if configured.
    pub fn map(&self, kind: ResourceKind) -> Option<&AttrMap> {
        match kind {
            ResourceKind::User => Some(&self.users),
            ResourceKind::Group => self.groups.as_ref(),
        }
    }
}

fn toml_problem(e: &toml::de::Error) -> String {
    let msg = e.message().trim();
    match e.span() {
        Some(span) => format!("config syntax at byte {}: {msg}", span.start),
        None => format!("config syntax: {msg}"),
    }
}

/// Validates `[server]`: one step per setting, in the order of the file, so
/// problems come out in that order.
fn server(raw: &file::Server, env: &dyn Environment, p: &mut Vec<String>) -> Server {
    let listen = listen(raw, env, p);
    let base_path = base_path(raw, p);
    let public_url = public_url(raw, p);
    let log_format = log_format(raw, p);
    let (max_page_size, default_page_size) = page_sizes(raw, p);
    let threads = threads(raw, p);
    let tls = tls(raw, listen, p);
    Server {
        tls,
        listen,
        base_path,
        public_discovery: raw.public_discovery.unwrap_or(false),
        public_metrics: raw.public_metrics.unwrap_or(false),
        public_url,
        max_body_bytes: raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        max_page_size,
        default_page_size,
        max_list_entries: raw.max_list_entries.unwrap_or(DEFAULT_MAX_LIST_ENTRIES),
        log_format,
        max_concurrent_requests: raw
            .max_concurrent_requests
            .unwrap_or(DEFAULT_MAX_CONCURRENT)
            .max(1),
        threads,
        request_timeout: raw
            .request_timeout_seconds
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT),
    }
}

/// `server.listen` (or `SCIM2LDAP_LISTEN`) as a socket address.
fn listen(raw: &file::Server, env: &dyn Environment, p: &mut Vec<String>) -> SocketAddr {
    let listen_text = env
        .var("SCIM2LDAP_LISTEN")
        .or_else(|| raw.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    listen_text.parse().unwrap_or_else(|_| {
        p.push(format!(
            "server.listen: {listen_text:?} is not an address like 127.0.0.1:8080"
        ));
        SocketAddr::from(([127, 0, 0, 1], 8080))
    })
}

/// `server.base_path`, checked; `/` becomes the empty prefix.
fn base_path(raw: &file::Server, p: &mut Vec<String>) -> String {
    let base_path = raw
        .base_path
        .clone()
        .unwrap_or_else(|| DEFAULT_BASE_PATH.to_owned());
    if !base_path.starts_with('/') || base_path.ends_with('/') && base_path.len() > 1 {
        p.push(format!(
            "server.base_path: {base_path:?} must start with '/' and not end with one"
        ));
    }
    if base_path == "/" {
        String::new()
    } else {
        base_path
    }
}

/// `server.public_url`, checked, without a trailing `/`.
fn public_url(raw: &file::Server, p: &mut Vec<String>) -> Option<String> {
    if let Some(u) = &raw.public_url {
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            p.push(format!(
                "server.public_url: {u:?} must be an http:// or https:// URL"
            ));
        }
    }
    raw.public_url
        .as_ref()
        .map(|u| u.trim_end_matches('/').to_owned())
}

/// `server.log_format`; text unless it says json.
fn log_format(raw: &file::Server, p: &mut Vec<String>) -> LogFormat {
    match raw.log_format.as_deref().unwrap_or("text") {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            p.push(format!(
                "server.log_format: {other:?} is not one of \"text\", \"json\""
            ));
            LogFormat::Text
        }
    }
}

/// `server.max_page_size` and `server.default_page_size`, checked together.
fn page_sizes(raw: &file::Server, p: &mut Vec<String>) -> (usize, usize) {
    let max_page_size = raw.max_page_size.unwrap_or(DEFAULT_MAX_PAGE_SIZE);
    let default_page_size = raw
        .default_page_size
        .unwrap_or(DEFAULT_PAGE_SIZE.min(max_page_size));
    if max_page_size == 0 {
        p.push("server.max_page_size: must be at least 1".to_owned());
    }
    if default_page_size > max_page_size {
        p.push("server.default_page_size: must not exceed server.max_page_size".to_owned());
    }
    (max_page_size, default_page_size)
}

/// `server.threads`; `None` (also for 0) means one per CPU.
fn threads(raw: &file::Server, p: &mut Vec<String>) -> Option<usize> {
    match raw.threads {
        None | Some(0) => None,
        Some(n) if n > MAX_THREADS => {
            p.push(format!(
                "server.threads: {n} is more than {MAX_THREADS}; 0 means one per CPU"
            ));
            None
        }
        Some(n) => Some(n),
    }
}

/// The HTTPS files of `[server]`; plain HTTP only where it is safe.
fn tls(raw: &file::Server, listen: SocketAddr, p: &mut Vec<String>) -> Option<Tls> {
    match (&raw.tls_cert, &raw.tls_key) {
        (Some(cert), Some(key)) => Some(Tls {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: raw.tls_client_ca.clone(),
        }),
        (None, None) => {
            if raw.tls_client_ca.is_some() {
                p.push("server.tls_client_ca: client certificates need HTTPS; set tls_cert and tls_key".to_owned());
            }
            // Plain HTTP leaves the token readable on the wire: only on loopback
            // or when the operator says a TLS proxy is in front.
            if !listen.ip().is_loopback() && raw.plain_http != Some(true) {
                p.push(format!(
                    "server: {listen} is not a loopback address; set tls_cert and tls_key, or plain_http = true behind a TLS-terminating proxy"
                ));
            }
            None
        }
        _ => {
            p.push("server.tls_cert / server.tls_key: set both or neither".to_owned());
            None
        }
    }
}

fn credentials_dir(env: &dyn Environment) -> Option<PathBuf> {
    env.var("CREDENTIALS_DIRECTORY").map(PathBuf::from)
}

/// Validates `[auth]`: `SCIM2LDAP_TOKEN` alone, or the file's default token
/// and `[[auth.tokens]]` in the order of the file.
fn tokens(
    raw: &file::Auth,
    env: &dyn Environment,
    p: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Vec<Token> {
    if let Some(t) = env.var("SCIM2LDAP_TOKEN") {
        // The environment replaces the file's tokens rather than adding one, so
        // an override never leaves a forgotten token valid.
        return vec![Token {
            name: "env".to_owned(),
            secret: SecretString::from(t),
        }];
    }
    let mut out = Vec::new();
    default_token(raw, &mut out, p, warnings);
    for (i, t) in raw.tokens.iter().enumerate() {
        named_token(i, t, env, &mut out, p, warnings);
    }
    check_token_set(&out, p);
    out
}

/// Adds the token read from `key` to `out`, or says why it cannot be used.
fn keep_token(
    out: &mut Vec<Token>,
    name: &str,
    key: &str,
    result: Result<SecretString, String>,
    p: &mut Vec<String>,
) {
    match result {
        Ok(secret) if secret::ExposeSecret::expose_secret(&secret).len() < 16 => {
            p.push(format!(
                "{key}: token {name:?} is shorter than 16 characters; use a long random value"
            ));
        }
        Ok(secret) => out.push(Token {
            name: name.to_owned(),
            secret,
        }),
        Err(e) => p.push(format!("{key}: {e}")),
    }
}

/// `auth.token` or `auth.token_file`: the token named "default".
fn default_token(
    raw: &file::Auth,
    out: &mut Vec<Token>,
    p: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    match (&raw.token, &raw.token_file) {
        (Some(_), Some(_)) => p.push("auth.token: set token or token_file, not both".to_owned()),
        (Some(v), None) => keep_token(
            out,
            "default",
            "auth.token",
            Ok(SecretString::from(v.clone())),
            p,
        ),
        (None, Some(f)) => keep_token(
            out,
            "default",
            "auth.token_file",
            secret::read_private_file(f, warnings),
            p,
        ),
        (None, None) => {}
    }
}

/// One `[[auth.tokens]]` entry, at index `i`.
fn named_token(
    i: usize,
    t: &file::Token,
    env: &dyn Environment,
    out: &mut Vec<Token>,
    p: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let key = format!("auth.tokens[{i}]");
    if t.name.trim().is_empty() {
        p.push(format!(
            "{key}.name: give the token a name (it appears in audit logs)"
        ));
    }
    let sources = secret::Sources {
        value: t.value.as_ref(),
        file: t.file.as_ref(),
        env: t.env.as_ref(),
        credential: t.credential.as_ref(),
    };
    if sources.count() != 1 {
        p.push(format!(
            "{key}: set exactly one of value, file, env, credential"
        ));
        return;
    }
    keep_token(
        out,
        &t.name,
        &key,
        sources.read(|v| env.var(v), credentials_dir(env).as_deref(), warnings),
        p,
    );
}

/// The tokens as a set: names unique, and at least one unless `[auth]`
/// already has a problem.
fn check_token_set(out: &[Token], p: &mut Vec<String>) {
    let mut names: Vec<&str> = out.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        p.push("auth.tokens: token names must be unique".to_owned());
    }
    if out.is_empty() && !p.iter().any(|x| x.starts_with("auth.")) {
        p.push("auth: no bearer token configured; set auth.token, auth.token_file, [[auth.tokens]] or SCIM2LDAP_TOKEN".to_owned());
    }
}

/// Validates `[ldap]`: one step per setting, in the order of the file, so
/// problems come out in that order.
fn ldap(
    raw: &file::Ldap,
    env: &dyn Environment,
    p: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Ldap {
    let urls = urls(raw, env, p);
    let bind_dn = bind_dn(raw, env, p);
    let bind_password = bind_password(raw, env, p, warnings);
    let insecure = raw.insecure_skip_verify.unwrap_or(false);
    if insecure {
        warnings.push("ldap.insecure_skip_verify = true: the directory's certificate is NOT verified; anyone on the path can read the bind password".to_owned());
    }
    let pool_size = raw.pool_size.unwrap_or(DEFAULT_POOL_SIZE);
    if pool_size == 0 {
        p.push("ldap.pool_size: must be at least 1".to_owned());
    }
    let vlv = vlv(raw, p);
    if raw.failback_seconds == Some(0) {
        p.push("ldap.failback_seconds: must be at least 1".to_owned());
    }
    Ldap {
        urls,
        bind_dn,
        bind_password,
        pool_size: pool_size.max(1),
        timeout: raw
            .timeout_seconds
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LDAP_TIMEOUT),
        failback: raw
            .failback_seconds
            .map(|s| Duration::from_secs(s.max(1)))
            .unwrap_or(DEFAULT_FAILBACK),
        starttls: raw.starttls.unwrap_or(false),
        ca_file: raw.ca_file.clone(),
        insecure_skip_verify: insecure,
        vlv,
    }
}

/// `ldap.url` (or the space-separated `SCIM2LDAP_LDAP_URL`), each an LDAP URL.
fn urls(raw: &file::Ldap, env: &dyn Environment, p: &mut Vec<String>) -> Vec<String> {
    let urls = match (env.var("SCIM2LDAP_LDAP_URL"), &raw.url) {
        (Some(u), _) => u.split_whitespace().map(str::to_owned).collect(),
        (None, Some(file::OneOrMany::One(u))) => vec![u.clone()],
        (None, Some(file::OneOrMany::Many(v))) => v.clone(),
        (None, None) => Vec::new(),
    };
    if urls.is_empty() {
        p.push(
            "ldap.url: missing; e.g. \"ldap://127.0.0.1:389\" (or SCIM2LDAP_LDAP_URL)".to_owned(),
        );
    }
    for u in &urls {
        let lower = u.to_ascii_lowercase();
        if !(lower.starts_with("ldap://") || lower.starts_with("ldaps://")) {
            p.push(format!(
                "ldap.url: {u:?} must start with ldap:// or ldaps://"
            ));
        }
    }
    urls
}

/// `ldap.bind_dn` (or `SCIM2LDAP_LDAP_BIND_DN`), present and a valid DN.
fn bind_dn(raw: &file::Ldap, env: &dyn Environment, p: &mut Vec<String>) -> String {
    let bind_dn = env
        .var("SCIM2LDAP_LDAP_BIND_DN")
        .or_else(|| raw.bind_dn.clone())
        .unwrap_or_default();
    if bind_dn.is_empty() {
        p.push(
            "ldap.bind_dn: missing; the DN the daemon binds as (or SCIM2LDAP_LDAP_BIND_DN)"
                .to_owned(),
        );
    } else if let Err(e) = crate::ldap::Dn::parse(&bind_dn) {
        p.push(format!("ldap.bind_dn: {e}"));
    }
    bind_dn
}

/// The bind password from `SCIM2LDAP_LDAP_BIND_PASSWORD` or exactly one of
/// the file's sources; empty where there is a problem.
fn bind_password(
    raw: &file::Ldap,
    env: &dyn Environment,
    p: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> SecretString {
    if let Some(pw) = env.var("SCIM2LDAP_LDAP_BIND_PASSWORD") {
        return SecretString::from(pw);
    }
    let sources = secret::Sources {
        value: raw.bind_password.as_ref(),
        file: raw.bind_password_file.as_ref(),
        env: None,
        credential: raw.bind_password_credential.as_ref(),
    };
    match sources.count() {
        0 => {
            p.push("ldap.bind_password: missing; set bind_password, bind_password_file, bind_password_credential or SCIM2LDAP_LDAP_BIND_PASSWORD".to_owned());
            SecretString::from(String::new())
        }
        1 => sources
            .read(|v| env.var(v), credentials_dir(env).as_deref(), warnings)
            .unwrap_or_else(|e| {
                p.push(format!("ldap.bind_password: {e}"));
                SecretString::from(String::new())
            }),
        _ => {
            p.push("ldap.bind_password: set only one of bind_password, bind_password_file, bind_password_credential".to_owned());
            SecretString::from(String::new())
        }
    }
}

/// `ldap.vlv`: auto unless it says off.
fn vlv(raw: &file::Ldap, p: &mut Vec<String>) -> Vlv {
    match raw.vlv.as_deref() {
        None | Some("auto") => Vlv::Auto,
        Some("off") => Vlv::Off,
        Some(other) => {
            p.push(format!(
                "ldap.vlv: {other:?} is not one of \"auto\", \"off\""
            ));
            Vlv::Auto
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// The secrets the shipped configs read from files, given as overrides.
    pub const SECRETS: [(&str, &str); 2] = [
        ("SCIM2LDAP_TOKEN", "test-token-0123456789abcdef"),
        ("SCIM2LDAP_LDAP_BIND_PASSWORD", "admin-secret-pw"),
    ];

    /// A fake environment for tests.
    pub struct Vars(pub Vec<(&'static str, &'static str)>);

    impl Environment for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    pub fn example(name: &str) -> String {
        std::fs::read_to_string(format!("{}/config/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn shipped_configs_are_valid() {
        for name in [
            "openldap.toml",
            "389ds.toml",
            "posix-openldap.toml",
            "posix-389ds.toml",
        ] {
            let c = Config::parse(&example(name), &Vars(SECRETS.to_vec()))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(c.groups.is_some(), "{name} maps groups");
            assert_eq!(c.server.threads, Some(1), "{name}: beside the directory");
            assert!(!c.tokens.is_empty());
        }
    }

    #[test]
    fn failback_interval_defaults_and_must_be_positive() {
        let vars = Vars(SECRETS.to_vec());
        let c = Config::parse(&example("389ds.toml"), &vars).unwrap();
        assert_eq!(c.ldap.failback, DEFAULT_FAILBACK);
        let text = example("389ds.toml").replace("[ldap]", "[ldap]\nfailback_seconds = 5");
        assert_eq!(
            Config::parse(&text, &vars).unwrap().ldap.failback,
            Duration::from_secs(5)
        );
        let text = example("389ds.toml").replace("[ldap]", "[ldap]\nfailback_seconds = 0");
        let e = Config::parse(&text, &vars).unwrap_err().to_string();
        assert!(
            e.contains("ldap.failback_seconds: must be at least 1"),
            "{e}"
        );
    }

    #[test]
    fn env_overrides_win() {
        let c = Config::parse(
            &example("openldap.toml"),
            &Vars(vec![
                ("SCIM2LDAP_LISTEN", "127.0.0.1:9999"),
                ("SCIM2LDAP_LDAP_URL", "ldap://a:1 ldaps://b:2"),
                ("SCIM2LDAP_LDAP_BIND_DN", "cn=other,dc=x"),
                ("SCIM2LDAP_LDAP_BIND_PASSWORD", "pw-from-env"),
                ("SCIM2LDAP_TOKEN", "token-from-env-0123456789"),
            ]),
        )
        .unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9999");
        assert_eq!(c.ldap.urls, ["ldap://a:1", "ldaps://b:2"]);
        assert_eq!(c.ldap.bind_dn, "cn=other,dc=x");
        assert_eq!(
            secret::ExposeSecret::expose_secret(&c.ldap.bind_password),
            "pw-from-env"
        );
        assert_eq!(c.tokens.len(), 1);
        assert_eq!(c.tokens[0].name, "env");
        assert!(
            !format!("{c:?}").contains("pw-from-env"),
            "secrets must not appear in Debug"
        );
        assert!(
            !format!("{c:?}").contains("token-from-env"),
            "secrets must not appear in Debug"
        );
    }

    #[test]
    fn plain_http_only_on_loopback_or_when_asked() {
        let mut vars = SECRETS.to_vec();
        vars.push(("SCIM2LDAP_LISTEN", "0.0.0.0:8080"));
        let e = Config::parse(&example("openldap.toml"), &Vars(vars.clone())).unwrap_err();
        assert!(e.to_string().contains("plain_http = true"), "{e}");
        let text = example("openldap.toml").replace("[server]", "[server]\nplain_http = true");
        assert!(
            Config::parse(&text, &Vars(vars.clone()))
                .unwrap()
                .server
                .tls
                .is_none()
        );
        let text = example("openldap.toml").replace(
            "[server]",
            "[server]\ntls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"",
        );
        let c = Config::parse(&text, &Vars(vars.clone())).unwrap();
        assert_eq!(c.server.tls.unwrap().cert, PathBuf::from("/c.pem"));
        let text = example("openldap.toml").replace("[server]", "[server]\ntls_cert = \"/c.pem\"");
        assert!(
            Config::parse(&text, &Vars(vars))
                .unwrap_err()
                .to_string()
                .contains("set both or neither")
        );
    }

    #[test]
    fn threads_default_to_one_per_cpu() {
        let with = |line: &str| {
            let text = example("openldap.toml")
                .replace("\nthreads = 1\n", "\n")
                .replace("[server]", &format!("[server]\n{line}"));
            Config::parse(&text, &Vars(SECRETS.to_vec())).map(|c| c.server.threads)
        };
        assert_eq!(with("").unwrap(), None);
        assert_eq!(with("threads = 0").unwrap(), None);
        assert_eq!(with("threads = 1").unwrap(), Some(1));
        assert_eq!(with("threads = 256").unwrap(), Some(256));
        let e = with("threads = 257").unwrap_err();
        assert!(e.to_string().contains("server.threads: 257"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = example("openldap.toml").replace("[ldap]", "[ldap]\nbind_passwrod = \"x\"");
        let e = Config::parse(&text, &Vars(SECRETS.to_vec())).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert!(e.0[0].contains("bind_passwrod"), "{e}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
[server]
listen = "nowhere"
log_format = "xml"
[auth]
token = "short"
[ldap]
url = "http://x"
[users]
base = "ou=people,dc=example,dc=com"
rdn = "uid"
object_classes = ["inetOrgPerson"]
[users.attributes]
userName = "uid"
nickNam = "displayName"
'emails[type eq "work"' = "mail"
"urn:example:unknown:2.0:User:foo" = "description"
"name.givenName" = { attribute = "givenName", mutability = "sometimes" }
"#;
        let e = Config::parse(text, &Vars(vec![])).unwrap_err();
        let all = e.to_string();
        for needle in [
            "server.listen",
            "server.log_format",
            "auth.token",
            "ldap.url",
            "ldap.bind_dn",
            "ldap.bind_password",
            "nickNam",
            "emails[type eq \\\"work\\\"",
            "urn:example:unknown:2.0:User",
            "mutability",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
        assert!(e.0.len() >= 10, "{all}");
    }

    #[test]
    fn token_sources() {
        let dir = std::env::temp_dir().join(format!("scim2ldap-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cred"), "credential-token-0123456789\n").unwrap();
        let text = example("openldap.toml").replace(
            "[auth]",
            "[auth]\n[[auth.tokens]]\nname = \"new\"\nenv = \"MY_TOKEN\"\n[[auth.tokens]]\nname = \"cred\"\ncredential = \"cred\"\n[auth.x]",
        );
        // The example file's own [auth] keys now sit under [auth.x]; cut them out.
        let text = text.replace("[auth.x]", "[ignored]");
        let text = text.replace("[ignored]", "");
        let text = text
            .lines()
            .filter(|l| !l.starts_with("token"))
            .collect::<Vec<_>>()
            .join("\n");
        let c = Config::parse(
            &text,
            &Vars(vec![
                ("MY_TOKEN", "env-token-0123456789abc"),
                ("SCIM2LDAP_LDAP_BIND_PASSWORD", "pw"),
                (
                    "CREDENTIALS_DIRECTORY",
                    Box::leak(dir.to_string_lossy().into_owned().into_boxed_str()),
                ),
            ]),
        )
        .unwrap();
        let names: Vec<_> = c.tokens.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["new", "cred"]);
        assert_eq!(
            secret::ExposeSecret::expose_secret(&c.tokens[1].secret),
            "credential-token-0123456789"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
