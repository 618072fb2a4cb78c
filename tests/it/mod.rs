//! The integration harness: real slapd and real 389-ds (started by
//! `scripts/test`, found through `SCIM2LDAP_IT_*_URL`), a real daemon on a
//! loopback port per test, real HTTP. Every test runs once per server; tests
//! are isolated by unique names, not by serialising.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

mod allocate;
mod clients;
mod derived;
mod derived_rdn;
mod faults;
mod frontend;
mod groups;
mod hostile;
mod ldaptls;
mod load;
mod namespace;
mod nss;
mod ops;
mod paging;
mod posix;
mod protocol;
mod races;
mod replication;
mod sssd;
mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ldap3::{LdapConnAsync, Scope, SearchEntry};
use scim2ldap::config::{Config, Environment};
use scim2ldap::directory::pool::LdapPool;
use scim2ldap::http::{AppState, router};
use scim2ldap::service::Service;
use scim2ldap::telemetry::Metrics;
use serde_json::{Value, json};

pub const TOKEN: &str = "integration-token-0123456789";
pub const ADMIN_PW: &str = "admin-secret-pw";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    OpenLdap,
    Ds389,
}

impl Server {
    pub fn env(self) -> &'static str {
        match self {
            Server::OpenLdap => "SCIM2LDAP_IT_OPENLDAP_URL",
            Server::Ds389 => "SCIM2LDAP_IT_389DS_URL",
        }
    }
    pub fn url(self) -> String {
        std::env::var(self.env()).unwrap_or_else(|_| {
            panic!(
                "{} is not set: the integration tests need a real directory. Run scripts/test (it starts slapd and 389-ds), or set {} to a server populated like scripts/test-servers does.",
                self.env(),
                self.env()
            )
        })
    }
    /// The server's name for scripts/test-servers.
    pub fn kind(self) -> &'static str {
        match self {
            Server::OpenLdap => "openldap",
            Server::Ds389 => "389ds",
        }
    }
    pub fn bind_dn(self) -> &'static str {
        match self {
            Server::OpenLdap => "cn=admin,dc=example,dc=com",
            Server::Ds389 => "cn=Directory Manager",
        }
    }
    pub fn config_file(self) -> &'static str {
        match self {
            Server::OpenLdap => "openldap.toml",
            Server::Ds389 => "389ds.toml",
        }
    }
}

pub struct Env(pub Vec<(String, String)>);

impl Environment for Env {
    fn var(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique name for this test run.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros()
        % 1_000_000_000;
    format!("{prefix}-{t}-{n}")
}

/// A running daemon plus an LDAP client for checking what it wrote.
pub struct Daemon {
    pub server: Server,
    pub base: String,
    pub http: reqwest::Client,
    pub config: Arc<Config>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn config_text(server: Server) -> String {
    std::fs::read_to_string(format!(
        "{}/config/{}",
        env!("CARGO_MANIFEST_DIR"),
        server.config_file()
    ))
    .unwrap()
}

/// `text` (an example config) with its groups made structural `class`
/// entries under `ou=OU` whose members are `attribute` values, with no
/// `memberOf` and the daemon keeping referential integrity.
pub fn group_model(text: &str, class: &str, attribute: &str, ou: &str) -> String {
    text.replace(
        "object_classes = [\"groupOfNames\", \"top\", \"scimGroup\"",
        &format!("object_classes = [\"{class}\", \"top\", \"scimGroup\""),
    )
    .replace(
        "attribute = \"member\"",
        &format!("attribute = \"{attribute}\""),
    )
    .replace(
        "referential_integrity = \"server\"",
        "referential_integrity = \"daemon\"",
    )
    .replace("member_of = \"memberOf\"", "")
    .replace(
        "ou=groups,dc=example,dc=com",
        &format!("ou={ou},dc=example,dc=com"),
    )
}

/// `text` (an example config) with its groups made RFC 2307 groups under
/// `ou=OU`: [`group_model`] with structural `posixGroup` whose members are
/// `memberUid` values, and no placeholder.
pub fn member_uid_groups(text: &str, ou: &str) -> String {
    group_model(text, "posixGroup", "memberUid", ou).replace(
        "placeholder = \"cn=empty-group-placeholder,dc=example,dc=com\"",
        "",
    )
}

impl Daemon {
    pub async fn start(server: Server) -> Daemon {
        Daemon::with_config(server, &config_text(server)).await
    }

    /// Starts a daemon from config text, with the test server's URL and secrets as overrides.
    pub async fn with_config(server: Server, text: &str) -> Daemon {
        Daemon::with_config_at(server, text, &server.url()).await
    }

    /// Like [`Daemon::with_config`], against a directory at `url`.
    pub async fn with_config_at(server: Server, text: &str, url: &str) -> Daemon {
        let env = Env(vec![
            ("SCIM2LDAP_LDAP_URL".into(), url.to_owned()),
            ("SCIM2LDAP_LDAP_BIND_DN".into(), server.bind_dn().into()),
            ("SCIM2LDAP_LDAP_BIND_PASSWORD".into(), ADMIN_PW.into()),
            ("SCIM2LDAP_TOKEN".into(), TOKEN.into()),
            ("SCIM2LDAP_LISTEN".into(), "127.0.0.1:0".into()),
        ]);
        let config = Config::parse(text, &env).unwrap_or_else(|e| panic!("config: {e}"));
        Daemon::from_config(server, config).await
    }

    /// Serves a validated configuration on a free loopback port.
    pub async fn from_config(server: Server, config: Config) -> Daemon {
        let config = Arc::new(config);
        // Logs go through the test writer: shown for failing tests only.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("info")
            .try_init();
        let metrics = Arc::new(Metrics::default());
        let pool = Arc::new(
            LdapPool::connect(&config.ldap)
                .await
                .unwrap_or_else(|e| panic!("cannot reach {server:?} at {}: {e}", server.url()))
                .with_metrics(metrics.clone()),
        );
        let service = Service::new(pool, config.clone(), metrics);
        let app = router(Arc::new(AppState::new(service)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Daemon {
            server,
            base: format!("http://{addr}{}", config.server.base_path),
            http: reqwest::Client::new(),
            config,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with the token; returns status and JSON body (Null when empty).
    /// The daemon's `/metrics` text (the request must answer 200).
    pub async fn metrics(&self) -> String {
        let r = self
            .http
            .get(self.base.replace("/scim/v2", "/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "GET /metrics");
        r.text().await.unwrap()
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call_with(
            method,
            path,
            body,
            &[("authorization", &format!("Bearer {TOKEN}"))],
        )
        .await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let (s, _, v) = self
            .raw(
                method,
                path,
                body.map(|b| b.to_string().into_bytes()),
                headers,
            )
            .await;
        (s, v)
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path));
        let mut has_ct = false;
        for (k, v) in headers {
            has_ct |= k.eq_ignore_ascii_case("content-type");
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            if !has_ct {
                req = req.header("content-type", "application/scim+json");
            }
            req = req.body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, headers, v)
    }

    /// An admin LDAP connection to the same server.
    pub async fn ldap(&self) -> ldap3::Ldap {
        admin_ldap(self.server, &self.server.url()).await
    }

    /// The entry at `dn` with all user and operational attributes, or None.
    pub async fn entry(&self, dn: &str) -> Option<SearchEntry> {
        let mut l = self.ldap().await;
        let r = l
            .search(dn, Scope::Base, "(objectClass=*)", vec!["*", "+"])
            .await
            .unwrap();
        let out = r.0.into_iter().next().map(SearchEntry::construct);
        let _ = l.unbind().await;
        out
    }

    /// The one entry under dc=example,dc=com whose entryUUID is `id`, with its uid.
    pub async fn entry_by_id(&self, id: &str) -> SearchEntry {
        let mut l = self.ldap().await;
        let (rs, _) = l
            .search(
                "dc=example,dc=com",
                Scope::Subtree,
                &format!("(entryUUID={id})"),
                vec!["uid"],
            )
            .await
            .unwrap()
            .success()
            .unwrap();
        let _ = l.unbind().await;
        assert_eq!(rs.len(), 1, "entries with entryUUID {id}");
        SearchEntry::construct(rs.into_iter().next().unwrap())
    }

    /// DNs matching a filter under dc=example,dc=com.
    pub async fn dns(&self, filter: &str) -> Vec<String> {
        let mut l = self.ldap().await;
        let (rs, _) = l
            .search("dc=example,dc=com", Scope::Subtree, filter, vec!["1.1"])
            .await
            .unwrap()
            .success()
            .unwrap();
        let _ = l.unbind().await;
        let mut v: Vec<String> = rs
            .into_iter()
            .map(|e| SearchEntry::construct(e).dn.to_lowercase())
            .collect();
        v.sort();
        v
    }

    /// The DN the configuration gives a user resource (from its userName).
    pub fn user_dn(&self, user: &Value) -> String {
        self.config
            .users
            .dn_for(user["userName"].as_str().unwrap())
            .to_string()
    }

    /// Creates a user with Entra's body; returns the created resource.
    pub async fn create_user(&self, user_name: &str) -> Value {
        let (s, v) = self
            .call("POST", "/Users", Some(&entra_user(user_name)))
            .await;
        assert_eq!(s, 201, "create {user_name}: {v}");
        v
    }

    pub async fn create_group(&self, name: &str, members: &[&str]) -> Value {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "externalId": unique("ext"), "displayName": name, "members": members, "meta": {"resourceType": "Group"}});
        let (s, v) = self.call("POST", "/Groups", Some(&body)).await;
        assert_eq!(s, 201, "create group {name}: {v}");
        v
    }
}

/// Waits until the daemon on `port` answers /readyz with 200; fails after
/// 20 s, showing `log()`.
pub async fn until_ready(port: u16, log: impl Fn() -> String) {
    let http = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let started = std::time::Instant::now();
    while http
        .get(&ready)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "daemon never ready: {}",
            log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Runs a bash script in `dir` (certificate generation, the LDAP helper
/// scripts), failing loudly.
pub fn sh(dir: &std::path::Path, script: &str) {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA in `dir`: `{stem}.key` and `{stem}.pem`, subject CN=`cn`.
pub fn ca(dir: &std::path::Path, stem: &str, cn: &str) {
    sh(
        dir,
        &format!(
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout {stem}.key -out {stem}.pem -days 2 -subj /CN={cn} 2>/dev/null"
        ),
    );
}

/// A certificate signed by the CA in `dir` (`ca.key`, `ca.pem`): `{stem}.key`
/// and `{stem}.pem`, subject CN=`cn`, with one X.509 v3 extension line (a
/// subjectAltName or an extendedKeyUsage).
pub fn issue(dir: &std::path::Path, stem: &str, cn: &str, serial: u32, extension: &str) {
    sh(
        dir,
        &format!(
            "openssl req -newkey rsa:2048 -nodes -keyout {stem}.key -out {stem}.csr -subj /CN={cn} 2>/dev/null
             printf '%s\\n' '{extension}' > {stem}.cnf
             openssl x509 -req -in {stem}.csr -CA ca.pem -CAkey ca.key -set_serial {serial} -extfile {stem}.cnf -out {stem}.pem -days 2 2>/dev/null"
        ),
    );
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3), for
/// filters and names in a URL.
pub fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asserts that `dn` names an entry directly under ou=people.
pub fn assert_directly_under_people(dn: &str) {
    let parsed = scim2ldap::ldap::Dn::parse(dn).unwrap();
    assert_eq!(parsed.len(), 4, "{dn}");
    let people = scim2ldap::ldap::Dn::parse("ou=people,dc=example,dc=com").unwrap();
    assert!(parsed.parent().same_as(&people), "{dn}");
}

/// The `[groups.members]` settings of a configuration.
pub fn group_members(config: &Config) -> &scim2ldap::mapping::Members {
    config.groups.as_ref().unwrap().members.as_ref().unwrap()
}

/// Entra's create body for a user (`tests/fixtures/entra-user.json`: its
/// default attribute mapping plus Contactify's custom extension), with
/// `user_name`, a unique externalId and a mail address of its own.
pub fn entra_user(user_name: &str) -> Value {
    let mut body: Value =
        serde_json::from_str(include_str!("../fixtures/entra-user.json")).unwrap();
    body["userName"] = json!(user_name);
    body["externalId"] = json!(unique("ext"));
    body["emails"][0]["value"] = json!(format!("{user_name}@example.com"));
    body
}

pub fn patch_body(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// First value of an attribute, case-insensitively.
pub fn attr(e: &SearchEntry, name: &str) -> Option<String> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first().cloned())
}

pub fn attrs(e: &SearchEntry, name: &str) -> Vec<String> {
    let mut v = e
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs each listed test once against OpenLDAP and once against 389-ds.
macro_rules! on_both_servers {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod openldap {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$module::$name(super::Server::OpenLdap).await }
            )*
        }
        mod ds389 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$module::$name(super::Server::Ds389).await }
            )*
        }
    };
}

on_both_servers!(
    users::entra_test_connection,
    nss::nss_client_resolves_through_the_namespace,
    sssd::sssd_client_resolves_and_expires,
    sssd::sssd_sees_what_entra_provisions,
    posix::entra_cycle_as_linux_accounts,
    posix::same_login_from_another_domain_conflicts,
    posix::concurrent_creates_deterministic,
    posix::concurrent_creates_counter,
    derived::cn_follows_the_surname,
    derived::client_formatted_name_is_kept,
    derived::unrelated_changes_leave_cn_alone,
    derived::computed_attributes_follow_and_refuse_writes,
    derived::check_config_names_non_ascii_into_ia5,
    derived_rdn::computed_login_names_the_user,
    derived_rdn::user_name_change_renames_and_groups_follow,
    derived_rdn::a_login_taken_is_a_conflict_naming_both,
    derived_rdn::member_uid_fix_up_tolerates_a_racing_writer,
    derived_rdn::disable_list_on_and_off,
    users::entra_user_cycle,
    users::update_each_mapped_attribute,
    users::duplicate_user_name_conflicts,
    users::rejected_requests_change_nothing,
    users::manager_reference,
    users::password_is_hashed_by_the_server,
    users::put_replaces,
    users::hostile_names_stay_under_the_base,
    users::filters_push_down,
    users::paging_and_projection,
    users::etags_and_preconditions,
    groups::entra_group_cycle,
    groups::empty_groups_use_the_placeholder,
    groups::unknown_member_writes_nothing,
    groups::nested_group_member,
    groups::user_deletion_cleans_memberships,
    groups::thousand_members_in_one_patch,
    groups::member_uid_model,
    groups::unique_member_model,
    protocol::auth_is_required,
    protocol::errors_are_scim,
    protocol::discovery,
    protocol::outside_bases_are_invisible,
    protocol::create_under_a_missing_base_is_a_server_error,
    ops::sorting_follows_the_server,
    ops::root_search_spans_users_and_groups,
    ops::check_config_reports_the_server,
    ops::explain_never_writes,
    ops::membership_patches_do_not_read_the_members,
    ops::metrics_count_requests_and_changes,
    ops::binary_serves_audits_and_stops,
    paging::pages_by_offset_walk_every_user_once,
    paging::count_zero_reads_no_entries,
    paging::look_through_limit_answers_too_many,
    races::same_user_name_created_concurrently,
    races::concurrent_member_patches_commute,
    races::writes_follow_a_concurrent_rename,
    races::deletes_follow_a_concurrent_group_rename,
    hostile::filter_injection_finds_nothing_extra,
    hostile::ids_that_are_not_uuids_are_not_found,
    hostile::nul_in_user_name_is_refused,
    hostile::read_only_attributes_are_refused,
    hostile::post_ignores_id_and_meta,
    hostile::dn_injection_stays_under_people,
    hostile::malformed_bodies_write_nothing,
    hostile::token_checks,
    hostile::every_endpoint_requires_the_token,
    hostile::datetime_text_with_multibyte_characters_is_refused,
    hostile::empty_substrings_match_every_value,
    load::directory_killed_under_load,
    load::directory_stalled_under_load,
    load::daemon_killed_under_load,
    load::crash_between_steps_is_completed_by_the_retry,
    load::refused_writes_are_retried_then_answered_503,
    replication::entra_cycle_across_replicas,
    replication::conditional_writes_race_through_one_supplier,
    replication::same_user_name_through_both_daemons,
    replication::multi_writer_topology_conflicts,
    replication::renamed_members_follow_on_both_replicas,
    allocate::deterministic_numbers_follow_the_source,
    allocate::deterministic_tiny_range_is_exhausted,
    allocate::deterministic_forty_creates_through_two_daemons,
    allocate::counter_hands_out_dense_numbers,
    allocate::counter_without_a_value_starts_at_min,
    allocate::counter_forty_creates_through_two_daemons,
    allocate::group_gid_numbers_follow_the_source,
);

/// The server strategy needs the directory's own allocator: 389-ds's DNA
/// plugin (the harness enables it for uidNumber and gidNumber).
mod ds389_allocate {
    /// One test: both hand out numbers from DNA's one range, and the first
    /// puts a number by hand where DNA goes next.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn server_strategy_then_forty_creates_through_two_daemons() {
        super::allocate::server_strategy_takes_the_directory_number(super::Server::Ds389).await;
        super::allocate::server_forty_creates_through_two_daemons(super::Server::Ds389).await;
    }
}

/// 389-ds VLV indexes made as the README says serve the daemon's lists (on a
/// 389-ds of the test's own: the indexes must exist before the users).
mod ds389_paging {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vlv_index_serves_unfiltered_lists() {
        super::paging::vlv_index_serves_unfiltered_lists().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sorted_substring_lists_need_a_substring_index() {
        super::paging::sorted_substring_lists_need_a_substring_index().await
    }
}

/// The version check of `check-config` on a replicated server (OpenLDAP's
/// entryCSN replicates; 389-ds's entryUSN does not).
mod ds389_replication {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn check_config_refuses_per_server_versions() {
        super::replication::check_config_refuses_per_server_versions(super::Server::Ds389).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replica_killed_under_load() {
        super::replication::replica_killed_under_load(super::Server::Ds389).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replica_stalled_under_load() {
        super::replication::replica_stalled_under_load(super::Server::Ds389).await
    }
}

/// The replica fault scenarios on the OpenLDAP multi-provider pair
/// (delta-syncrepl, member values kept by the daemon rather than refint).
mod openldap_replication {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replica_killed_under_load() {
        super::replication::replica_killed_under_load(super::Server::OpenLdap).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replica_stalled_under_load() {
        super::replication::replica_stalled_under_load(super::Server::OpenLdap).await
    }
}

/// Fault tests on a private slapd (killing a shared server would break the
/// other tests running at the same time).
mod openldap_faults {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn directory_restart_gives_503_then_recovers() {
        super::faults::directory_restart_gives_503_then_recovers().await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stalled_directory_gives_503_not_a_hang() {
        super::faults::stalled_directory_gives_503_not_a_hang().await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failover_to_the_next_url() {
        super::faults::failover_to_the_next_url().await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ldaps_and_starttls_with_a_private_ca() {
        super::ldaptls::ldaps_and_starttls_with_a_private_ca().await
    }
}

/// The HTTPS front end does not depend on the directory: once, on OpenLDAP.
mod openldap_frontend {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn https_reloads_on_sighup() {
        super::frontend::https_reloads_on_sighup().await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn client_certificates_when_configured() {
        super::frontend::client_certificates_when_configured().await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn systemd_is_notified() {
        super::frontend::systemd_is_notified().await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn systemd_unit_verifies() {
        super::frontend::systemd_unit_verifies().await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_as_the_docker_image_does() {
        super::frontend::runs_as_the_docker_image_does().await
    }
}

/// An LDAP connection to `url`, bound as `server`'s admin.
pub async fn admin_ldap(server: Server, url: &str) -> ldap3::Ldap {
    let (conn, mut ldap) = LdapConnAsync::new(url).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(server.bind_dn(), ADMIN_PW)
        .await
        .unwrap()
        .success()
        .unwrap();
    ldap
}
