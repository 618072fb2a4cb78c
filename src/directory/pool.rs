//! The ldap3 adapter: a bounded pool of bound, multiplexed connections.
//!
//! Each slot holds one connection that many requests share (ldap3 multiplexes
//! operations by message id). A slot whose connection broke is rebuilt on its
//! next use, trying the configured URLs in order; while the directory stays
//! unreachable, reconnect attempts back off and requests fail fast with
//! `Unavailable` (503) instead of queueing behind a hung connect.
//!
//! Fail-back: a URL whose connect or bind failed (refused, or no answer in
//! time from a server that hangs) is marked down and skipped by reconnects
//! while another answers. A background probe tries each down URL once every
//! `ldap.failback_seconds`; when it binds again the mark is cleared, and each
//! slot on a later URL opens a connection to the earlier one on its next use.
//! The connection it leaves is closed only after the operation timeout, so
//! requests already running on it finish there.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::asn1::{ASNTag, Boolean, OctetString, Sequence, Tag, TagClass};
use ldap3::asn1::{StructureTag, parse_tag};
use ldap3::controls::{Assertion, MakeCritical, PostRead, RawControl};
use ldap3::exop::PasswordModify;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, ResultEntry};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use super::{
    Capabilities, DirError, Directory, Page, Precondition, Scope, Search, Sort, SortRules, Window,
    oid, vlv,
};
use crate::config;
use crate::ldap::{Dn, Entry, Filter, Mod};
use crate::telemetry::Metrics;

/// Shortest wait between reconnect attempts of one slot while the server is down.
const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait; keeps recovery within about a second of the server's return.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Page size for streamed searches.
const PAGE_SIZE: i32 = 500;

struct Slot {
    conn: Option<Ldap>,
    /// Index in `ldap.url` of the server `conn` is bound to.
    url: usize,
    failures: u32,
    retry_at: Option<Instant>,
}

/// What the pool knows of each configured URL; shared with the fail-back probe.
struct Urls {
    /// Connect or bind failed and no probe has bound since.
    down: Vec<AtomicBool>,
    /// Slots currently connected through each URL.
    connections: Vec<AtomicUsize>,
}

impl Urls {
    fn new(n: usize) -> Urls {
        Urls {
            down: (0..n).map(|_| AtomicBool::new(false)).collect(),
            connections: (0..n).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    fn is_down(&self, i: usize) -> bool {
        self.down[i].load(Ordering::Relaxed)
    }

    /// The first URL not marked down: where every connection should be.
    fn preferred(&self) -> Option<usize> {
        (0..self.down.len()).find(|&i| !self.is_down(i))
    }
}

/// The pool.
pub struct LdapPool {
    cfg: config::Ldap,
    tls: Option<Arc<rustls::ClientConfig>>,
    urls: Arc<Urls>,
    slots: Vec<Mutex<Slot>>,
    next: AtomicUsize,
    caps: Capabilities,
    in_use: AtomicUsize,
    metrics: Option<Arc<Metrics>>,
    /// Whether the log has said that a page could not be fetched by offset
    /// (said once; the metrics count every time).
    offset_refusal_logged: AtomicBool,
    /// Whether searches by offset may share pooled connections: set once the
    /// server answers one without a context ID (it keeps no list per
    /// connection); until then each runs on a connection of its own.
    offset_pooled: AtomicBool,
}

/// How a search by offset (VLV) ended.
enum ByOffset {
    Done(Window),
    /// The server would not page this search by offset (no VLV index, the
    /// control or the sort refused): read it through instead.
    Refused(String),
    Failed(DirError),
}

/// Result codes with which a server refuses to page a search by offset,
/// rather than failing it: unavailableCriticalExtension (12),
/// adminLimitExceeded (11), inappropriateMatching (18), unwillingToPerform
/// (53), sortControlMissing (60), offsetRangeError (61),
/// virtualListViewError (76), other (80).
fn refuses_offset(rc: u32) -> bool {
    matches!(rc, 11 | 12 | 18 | 53 | 60 | 61 | 76 | 80)
}

fn dir_err(e: LdapError) -> DirError {
    match e {
        LdapError::LdapResult { result } => DirError::Result {
            rc: result.rc,
            text: result.text,
        },
        LdapError::Timeout { .. } => timed_out(),
        // A request the library refused to encode is a bug here, not an outage.
        LdapError::FilterParsing => {
            DirError::Protocol("an LDAP filter could not be encoded".to_owned())
        }
        other => DirError::Unavailable(format!("connection to the directory failed: {other}")),
    }
}

/// An operation the directory did not answer within its time limit.
fn timed_out() -> DirError {
    DirError::Unavailable("the directory did not answer in time".to_owned())
}

/// `op` within `limit`: the one time limit of an operation, however many
/// messages it exchanges (a timer per message, the library's own, would be
/// armed and disarmed several times for every search).
async fn within<T>(
    limit: Duration,
    op: impl Future<Output = Result<T, DirError>>,
) -> Result<T, DirError> {
    tokio::time::timeout(limit, op)
        .await
        .unwrap_or_else(|_| Err(timed_out()))
}

fn is_transport(e: &DirError) -> bool {
    matches!(e, DirError::Unavailable(_))
}

fn check(res: LdapResult) -> Result<LdapResult, DirError> {
    match res.rc {
        0 => Ok(res),
        // busy / unavailable / unwilling-while-shutting-down: retryable.
        super::rc::BUSY | super::rc::UNAVAILABLE => Err(DirError::Unavailable(format!(
            "the directory is {}: {}",
            if res.rc == 51 { "busy" } else { "unavailable" },
            res.text
        ))),
        rc => Err(DirError::Result { rc, text: res.text }),
    }
}

fn scope(s: Scope) -> ldap3::Scope {
    match s {
        Scope::Base => ldap3::Scope::Base,
        Scope::One => ldap3::Scope::OneLevel,
        Scope::Subtree => ldap3::Scope::Subtree,
    }
}

/// An entry from the BER of a SearchResultEntry (also the value of a PostRead
/// response control), parsed straight into [`Entry`]: values keep their
/// buffers, and a malformed message is a protocol error rather than a panic.
fn to_entry(tag: StructureTag) -> Result<Entry, DirError> {
    fn bad(what: &str) -> DirError {
        DirError::Protocol(format!("malformed search result entry: {what}"))
    }
    fn bytes(t: Option<StructureTag>, what: &str) -> Result<Vec<u8>, DirError> {
        t.and_then(StructureTag::expect_primitive)
            .ok_or_else(|| bad(what))
    }
    fn parts(t: Option<StructureTag>, what: &str) -> Result<Vec<StructureTag>, DirError> {
        t.and_then(StructureTag::expect_constructed)
            .ok_or_else(|| bad(what))
    }
    // DNs and attribute types are UTF-8 (RFC 4511 §4.1.2, §4.1.3): a DN that
    // is not would name another entry if it were repaired.
    fn text(t: Option<StructureTag>, what: &str) -> Result<String, DirError> {
        String::from_utf8(bytes(t, what)?).map_err(|_| bad(what))
    }
    // Binary values (rare in the mapped schema) are kept as lossy text rather than dropped.
    fn value(t: StructureTag) -> Result<String, DirError> {
        Ok(String::from_utf8(bytes(Some(t), "attribute value")?)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }
    let entry = tag
        .match_class(TagClass::Application)
        .and_then(|t| t.match_id(4));
    let mut entry = parts(entry, "not an entry")?.into_iter();
    // A DN the server sends must parse: the daemon names entries by it.
    let dn = text(entry.next(), "DN")?;
    let dn = Dn::parse(&dn)
        .map_err(|e| DirError::Protocol(format!("malformed search result entry: {e}")))?;
    let list = parts(entry.next(), "attribute list")?;
    let mut attrs = Vec::with_capacity(list.len());
    for pa in list {
        let mut pa = parts(Some(pa), "attribute")?.into_iter();
        let name = text(pa.next(), "attribute type")?;
        let values = parts(pa.next(), "attribute values")?
            .into_iter()
            .map(value)
            .collect::<Result<Vec<String>, DirError>>()?;
        attrs.push((name, values));
    }
    Ok(Entry::new(dn, attrs))
}

fn entries(rs: Vec<ResultEntry>) -> Result<Vec<Entry>, DirError> {
    rs.into_iter().map(|e| to_entry(e.0)).collect()
}

/// The entry a PostRead response control carries, under the DN the write
/// named. None when the server sent none, or one that cannot be parsed: the
/// write itself succeeded, so the caller reads the entry instead.
fn post_read(dn: &str, res: &LdapResult) -> Option<Entry> {
    let c = res.ctrls.iter().find(|c| c.1.ctype == oid::POST_READ)?;
    let parsed = parse_tag(c.1.val.as_deref().unwrap_or_default())
        .map_err(|_| DirError::Protocol("malformed PostRead response control".to_owned()))
        .and_then(|(_, tag)| to_entry(tag))
        .and_then(|e| {
            Dn::parse(dn)
                .map(|dn| (dn, e))
                .map_err(|e| DirError::Protocol(e.to_string()))
        });
    match parsed {
        Ok((dn, mut e)) => {
            e.dn = dn;
            Some(e)
        }
        Err(e) => {
            tracing::warn!(dn = %dn, error = %e, "ignoring the PostRead answer; reading the entry instead");
            None
        }
    }
}

/// Whether the server sorts an attribute without an ORDERING rule by its
/// syntax: one sorted search of the rootDSE on such an attribute tells
/// (389-ds answers it; OpenLDAP's sssvlv refuses with inappropriateMatching).
async fn sort_rules(
    pool: &LdapPool,
    probe: Option<String>,
    rules: std::collections::BTreeMap<String, String>,
) -> SortRules {
    let Some(attribute) = probe.filter(|_| pool.caps.server_side_sort) else {
        return SortRules::Syntax;
    };
    let root = Search {
        base: String::new(),
        scope: Scope::Base,
        filter: crate::ldap::Filter::everything(),
        attrs: vec!["1.1".to_owned()],
    };
    let key = Sort {
        attribute,
        rule: None,
        reverse: false,
    };
    let page = Page {
        take: 1,
        sort: Some(key),
        max_read: 1,
        ..Page::default()
    };
    match pool.search_window(root, page).await {
        Ok(_) => SortRules::Syntax,
        Err(_) => SortRules::Named(rules),
    }
}

/// RFC 2891 SortKeyList with one key.
fn sort_control(s: &Sort) -> RawControl {
    let mut key = vec![Tag::OctetString(OctetString {
        inner: s.attribute.as_bytes().to_vec(),
        ..Default::default()
    })];
    if let Some(rule) = &s.rule {
        // orderingRule [0] MatchingRuleId
        key.push(Tag::OctetString(OctetString {
            id: 0,
            class: TagClass::Context,
            inner: rule.as_bytes().to_vec(),
        }));
    }
    if s.reverse {
        key.push(Tag::Boolean(Boolean {
            id: 1,
            class: TagClass::Context,
            inner: true,
        }));
    }
    let list = Tag::Sequence(Sequence {
        inner: vec![Tag::Sequence(Sequence {
            inner: key,
            ..Default::default()
        })],
        ..Default::default()
    });
    let mut buf = bytes_buf();
    let _ = ldap3::asn1::write::encode_into(&mut buf, list.into_structure());
    RawControl {
        ctype: oid::SERVER_SIDE_SORT.to_owned(),
        crit: true,
        val: Some(buf.to_vec()),
    }
}

fn bytes_buf() -> bytes::BytesMut {
    bytes::BytesMut::with_capacity(64)
}

fn to_ldap3_mods(mods: Vec<Mod>) -> Vec<ldap3::Mod<String>> {
    mods.into_iter()
        .map(|m| match m {
            Mod::Add(a, v) => ldap3::Mod::Add(a, v.into_iter().collect::<HashSet<_>>()),
            Mod::Delete(a, v) => ldap3::Mod::Delete(a, v.into_iter().collect::<HashSet<_>>()),
            Mod::Replace(a, v) => ldap3::Mod::Replace(a, v.into_iter().collect::<HashSet<_>>()),
        })
        .collect()
}

/// Builds the rustls client configuration for `ldaps://` and StartTLS.
fn tls_config(cfg: &config::Ldap) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let Some(ca) = &cfg.ca_file else {
        return Ok(None);
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)
        .map_err(|e| format!("ldap.ca_file {}: {e}", ca.display()))?
    {
        let cert = cert.map_err(|e| format!("ldap.ca_file {}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("ldap.ca_file {}: {e}", ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "ldap.ca_file {}: no certificates in it",
            ca.display()
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

/// Opens and binds one connection to `url`, within the operation timeout.
async fn connect_one(
    cfg: &config::Ldap,
    tls: Option<&Arc<rustls::ClientConfig>>,
    url: &str,
) -> Result<Ldap, DirError> {
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(cfg.timeout)
        .set_starttls(cfg.starttls && url.to_ascii_lowercase().starts_with("ldap://"))
        .set_no_tls_verify(cfg.insecure_skip_verify);
    if let Some(tls) = tls {
        settings = settings.set_config(tls.clone());
    }
    let attempt = async {
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, url)
            .await
            .map_err(dir_err)?;
        ldap3::drive!(conn);
        ldap.with_timeout(cfg.timeout)
            .simple_bind(&cfg.bind_dn, cfg.bind_password.expose_secret())
            .await
            .map_err(dir_err)
            .and_then(check)
            .map_err(|e| match e {
                DirError::Result { rc: 49, .. } => DirError::Protocol(format!(
                    "bind as {} was refused: invalid credentials",
                    cfg.bind_dn
                )),
                other => other,
            })?;
        Ok::<Ldap, DirError>(ldap)
    };
    match tokio::time::timeout(cfg.timeout, attempt).await {
        Ok(Ok(ldap)) => Ok(ldap),
        Ok(Err(e)) => {
            tracing::warn!(url = %url, error = %e, "LDAP connection failed");
            Err(e)
        }
        Err(_) => {
            tracing::warn!(url = %url, "LDAP connection timed out");
            Err(DirError::Unavailable(format!(
                "connecting to {url} timed out"
            )))
        }
    }
}

/// The fail-back probe: at each multiple of `failback` on the wall clock (so
/// that all daemons probe at the same moments and fail back together), each
/// URL marked down is tried; one that binds, and whose replication state
/// covers that of the URL in use, is marked up, so slots on later URLs return
/// to it. Ends with the pool.
async fn probe(
    urls: Weak<Urls>,
    cfg: config::Ldap,
    tls: Option<Arc<rustls::ClientConfig>>,
    contexts: Vec<String>,
) {
    loop {
        tokio::time::sleep(until_next_tick(cfg.failback)).await;
        let Some(state) = urls.upgrade() else { return };
        for (i, url) in cfg.urls.iter().enumerate() {
            if !state.is_down(i) {
                continue;
            }
            let Ok(mut back) = connect_one(&cfg, tls.as_ref(), url).await else {
                continue;
            };
            let in_use = state.preferred().map(|j| &cfg.urls[j]);
            let current = match in_use {
                Some(u) => connect_one(&cfg, tls.as_ref(), u).await.ok(),
                None => None,
            };
            let ready = match current {
                Some(mut c) => {
                    // Bounded: a server that binds but stalls on searches
                    // must not hold up the probe of every other URL.
                    let check = caught_up(&mut c, &mut back, &contexts, cfg.failback);
                    let ready = tokio::time::timeout(cfg.failback + cfg.timeout, check)
                        .await
                        .unwrap_or(false);
                    let _ = c.unbind().await;
                    ready
                }
                None => true,
            };
            let _ = back.unbind().await;
            if ready && state.down[i].swap(false, Ordering::Relaxed) {
                tracing::info!(url = %url, "LDAP URL answers again and has caught up; connections return to it");
            }
        }
    }
}

/// Time until the next multiple of `every` since the Unix epoch.
fn until_next_tick(every: Duration) -> Duration {
    let every = every.as_millis().max(1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    Duration::from_millis(u64::try_from(every - now % every).unwrap_or(1000))
}

/// Whether the server on `back` holds every change the server on `current`
/// held when asked, waiting up to `limit` for it to catch up. True when
/// neither exposes replication state (nothing to compare).
async fn caught_up(
    current: &mut Ldap,
    back: &mut Ldap,
    contexts: &[String],
    limit: Duration,
) -> bool {
    let started = Instant::now();
    let want = replication_state(current, contexts).await;
    loop {
        let have = replication_state(back, contexts).await;
        if covers(&have, &want) {
            return true;
        }
        if started.elapsed() >= limit {
            tracing::info!(
                "an earlier LDAP URL answers but has not caught up with replication yet"
            );
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The newest change a server holds from each replica (replica id -> CSN),
/// read from OpenLDAP's `contextCSN` on each naming context and from 389-ds's
/// live replica update vector (`nsds50ruv` of the replica entry under
/// `cn=mapping tree,cn=config`; the copy in the database is saved only now
/// and then). What the bind DN may not read counts as nothing.
async fn replication_state(
    ldap: &mut Ldap,
    contexts: &[String],
) -> std::collections::BTreeMap<String, String> {
    let mut csns = Vec::new();
    let mut ruv = Vec::new();
    for nc in contexts {
        let replica = Filter::and(vec![
            Filter::Equal("objectClass".to_owned(), "nsds5Replica".to_owned()),
            Filter::Equal("nsDS5ReplicaRoot".to_owned(), nc.clone()),
        ])
        .to_string();
        let reads = [
            (
                nc.as_str(),
                ldap3::Scope::Base,
                "(objectClass=*)".to_owned(),
                "contextCSN",
            ),
            (
                "cn=mapping tree,cn=config",
                ldap3::Scope::Subtree,
                replica,
                "nsds50ruv",
            ),
        ];
        for (base, scope, filter, attr) in reads {
            let Ok(Ok((rs, _))) = ldap
                .search(base, scope, &filter, vec![attr])
                .await
                .map(|r| r.success())
            else {
                continue;
            };
            for e in rs.into_iter().filter_map(|r| to_entry(r.0).ok()) {
                let into = if attr == "contextCSN" {
                    &mut csns
                } else {
                    &mut ruv
                };
                into.extend(e.values(attr).iter().map(|v| format!("{nc}\n{v}")));
            }
        }
    }
    parse_replication_state(&csns, &ruv)
}

/// (naming context, replica id) -> newest CSN, from `contextCSN` values
/// (`20261203075936.159908Z#000000#001#000000`: the third field is the
/// server id) and `nsds50ruv` values (`{replica 1 ldap://host:389} MIN MAX`),
/// each prefixed with its naming context and a newline. CSNs of one replica
/// have a fixed width, so they compare as strings.
fn parse_replication_state(
    csns: &[String],
    ruv: &[String],
) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for v in csns {
        let Some((nc, csn)) = v.split_once('\n') else {
            continue;
        };
        if let Some(sid) = csn.split('#').nth(2) {
            out.insert(format!("{nc} {sid}"), csn.to_owned());
        }
    }
    for v in ruv {
        let Some((nc, value)) = v.split_once('\n') else {
            continue;
        };
        let Some(rest) = value.strip_prefix("{replica ") else {
            continue;
        };
        let Some((head, csns)) = rest.split_once('}') else {
            continue;
        };
        let id = head.split_whitespace().next().unwrap_or_default();
        if let Some(max) = csns.split_whitespace().nth(1) {
            out.insert(format!("{nc} {id}"), max.to_owned());
        }
    }
    out
}

/// Whether `have` holds the newest change in `want` of each naming context (CSNs begin with their
/// time, so the newest compares greatest across replicas). Only the newest:
/// while a URL was down every write went to the server in use, so that is
/// the change to wait for, and a server restarted after a crash may record
/// its own last change late (OpenLDAP saves `contextCSN` at checkpoints),
/// which must not hold fail-back up for good.
fn covers(
    have: &std::collections::BTreeMap<String, String>,
    want: &std::collections::BTreeMap<String, String>,
) -> bool {
    // Per naming context (keys are "context replica-id").
    let mut newest: std::collections::BTreeMap<&str, (&String, &String)> = Default::default();
    for (key, csn) in want {
        let nc = key.rsplit_once(' ').map_or(key.as_str(), |(nc, _)| nc);
        let slot = newest.entry(nc).or_insert((key, csn));
        if csn > slot.1 {
            *slot = (key, csn);
        }
    }
    newest
        .values()
        .all(|(key, csn)| have.get(*key).is_some_and(|h| h >= *csn))
}

impl LdapPool {
    /// A pool that has not talked to the directory yet: every slot connects
    /// on first use and the capabilities are the defaults (nothing offered).
    /// This is the daemon's state while the directory is unreachable, which
    /// is how the in-process HTTP tests run without a server.
    pub fn unconnected(cfg: &config::Ldap) -> Result<LdapPool, DirError> {
        let tls = tls_config(cfg).map_err(DirError::Protocol)?;
        Ok(LdapPool {
            cfg: cfg.clone(),
            tls,
            urls: Arc::new(Urls::new(cfg.urls.len())),
            slots: (0..cfg.pool_size)
                .map(|_| {
                    Mutex::new(Slot {
                        conn: None,
                        url: 0,
                        failures: 0,
                        retry_at: None,
                    })
                })
                .collect(),
            next: AtomicUsize::new(0),
            caps: Capabilities::default(),
            in_use: AtomicUsize::new(0),
            metrics: None,
            offset_refusal_logged: AtomicBool::new(false),
            offset_pooled: AtomicBool::new(false),
        })
    }

    /// Connects the first slot (so a bad bind fails start-up loudly) and reads
    /// the rootDSE; the other slots connect on first use.
    pub async fn connect(cfg: &config::Ldap) -> Result<LdapPool, DirError> {
        let mut pool = LdapPool::unconnected(cfg)?;
        let (mut ldap, url) = pool.open().await?;
        let (rs, _) = ldap
            .with_timeout(cfg.timeout)
            .search(
                "",
                ldap3::Scope::Base,
                "(objectClass=*)",
                vec![
                    "supportedControl",
                    "supportedExtension",
                    "namingContexts",
                    "vendorName",
                    "vendorVersion",
                    "objectClass",
                ],
            )
            .await
            .map_err(dir_err)?
            .success()
            .map_err(dir_err)?;
        let root = entries(rs)?.into_iter().next().unwrap_or_default();
        pool.caps = Capabilities::from_root_dse(&root);
        if cfg.vlv == config::Vlv::Off {
            pool.caps.vlv = false;
        }
        if let Some(first) = pool.slots.first_mut() {
            let first = first.get_mut();
            first.conn = Some(ldap);
            first.url = url;
            pool.urls.connections[url].fetch_add(1, Ordering::Relaxed);
        }
        if pool.cfg.urls.len() > 1 {
            tokio::spawn(probe(
                Arc::downgrade(&pool.urls),
                pool.cfg.clone(),
                pool.tls.clone(),
                pool.caps.naming_contexts.clone(),
            ));
        }
        // Which attributes can be ordered decides whether gt/ge/lt/le filters
        // can be answered; a server that hides its schema gets no check.
        if let Ok(schema) = super::subschema::read(&pool).await {
            pool.caps.ordered_attributes = Some(schema.ordered);
            // Without an EQUALITY rule a server may still match by the
            // attribute's syntax (389-ds does); one probe tells.
            let falls_back = match &schema.unmatchable_probe {
                Some(a) => super::subschema::evaluates_equality(&pool, a).await,
                None => false,
            };
            if !falls_back {
                pool.caps.unmatchable_attributes = schema.unmatchable;
            }
            pool.caps.sort_rules = sort_rules(&pool, schema.sort_probe, schema.sort_rules).await;
        }
        Ok(pool)
    }

    /// Opens and binds one connection, trying each URL in order and skipping
    /// those marked down (all of them, when every one is); returns it with the
    /// index of its URL.
    async fn open(&self) -> Result<(Ldap, usize), DirError> {
        let mut last = DirError::Unavailable("no LDAP URL configured".to_owned());
        let all_down = self.urls.preferred().is_none();
        for (i, url) in self.cfg.urls.iter().enumerate() {
            if self.urls.is_down(i) && !all_down {
                continue;
            }
            match connect_one(&self.cfg, self.tls.as_ref(), url).await {
                Ok(ldap) => {
                    self.urls.down[i].store(false, Ordering::Relaxed);
                    return Ok((ldap, i));
                }
                Err(e) => {
                    if self.cfg.urls.len() > 1 && !self.urls.down[i].swap(true, Ordering::Relaxed) {
                        tracing::warn!(url = %url, "LDAP URL marked down; later URLs are used until it answers a bind again");
                    }
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// Records that `slot` is now connected through `url` (None: no longer
    /// connected), and republishes the per-URL gauge.
    fn moved(&self, slot: &mut Slot, url: Option<usize>) {
        if slot.conn.is_some() {
            self.urls.connections[slot.url].fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(u) = url {
            self.urls.connections[u].fetch_add(1, Ordering::Relaxed);
            slot.url = u;
        }
        self.publish();
    }

    fn publish(&self) {
        if let Some(m) = &self.metrics {
            m.ldap_urls(
                self.cfg
                    .urls
                    .iter()
                    .zip(&self.urls.connections)
                    .map(|(u, n)| (u.clone(), n.load(Ordering::Relaxed)))
                    .collect(),
            );
        }
    }

    /// A slot on a later URL than the preferred one opens a connection to the
    /// preferred one; the old connection stays open until operations already
    /// running on it are over. When that fails the old connection is kept.
    async fn fail_back(&self, i: usize, slot: &mut Slot) {
        let Some(c) = slot.conn.clone() else { return };
        let Ok((fresh, url)) = self.open().await else {
            return;
        };
        if url < slot.url {
            tracing::info!(slot = i, url = %self.cfg.urls[url], from = %self.cfg.urls[slot.url], "LDAP connection failed back to an earlier URL");
        }
        self.moved(slot, Some(url));
        slot.conn = Some(fresh);
        let linger = self.cfg.timeout + Duration::from_secs(1);
        tokio::spawn(async move {
            tokio::time::sleep(linger).await;
            let mut c = c;
            let _ = c.unbind().await;
        });
    }

    /// A bound handle from the next slot, reconnecting it if needed.
    async fn handle(&self) -> Result<(usize, Ldap), DirError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[i].lock().await;
        if slot.conn.as_mut().is_some_and(|c| !c.is_closed()) {
            if self.urls.preferred().is_some_and(|p| p < slot.url) {
                self.fail_back(i, &mut slot).await;
            }
            if let Some(c) = slot.conn.as_ref() {
                return Ok((i, c.clone()));
            }
        }
        if slot.conn.is_some() {
            self.moved(&mut slot, None);
            slot.conn = None;
        }
        if let Some(at) = slot.retry_at {
            if Instant::now() < at {
                return Err(DirError::Unavailable(
                    "the directory is unreachable; retrying shortly".to_owned(),
                ));
            }
        }
        match self.open().await {
            Ok((c, url)) => {
                if slot.failures > 0 {
                    tracing::info!(slot = i, url = %self.cfg.urls[url], "LDAP connection restored");
                }
                slot.failures = 0;
                slot.retry_at = None;
                let h = c.clone();
                self.moved(&mut slot, Some(url));
                slot.conn = Some(c);
                Ok((i, h))
            }
            Err(e) => {
                slot.failures = slot.failures.saturating_add(1);
                let backoff = MIN_BACKOFF
                    .saturating_mul(slot.failures.min(8))
                    .min(MAX_BACKOFF);
                slot.retry_at = Some(Instant::now() + backoff);
                Err(e)
            }
        }
    }

    /// Counts one operation by type and outcome, with its latency.
    fn record<T>(&self, name: &'static str, out: &Result<T, DirError>, started: Instant) {
        if let Some(m) = &self.metrics {
            let code;
            let result = match out {
                Ok(_) => "success",
                Err(DirError::Result { rc, .. }) => {
                    code = rc.to_string();
                    &code
                }
                Err(DirError::Unavailable(_)) => "unavailable",
                Err(DirError::Protocol(_)) => "protocol",
                Err(DirError::TooMany { .. }) => "too_many",
            };
            m.ldap(name, result, started.elapsed());
        }
    }

    /// Reports operations to `metrics` from now on.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> LdapPool {
        self.metrics = Some(metrics);
        self.publish();
        self
    }

    /// Drops a slot's connection after a transport failure so it is rebuilt.
    async fn discard(&self, i: usize) {
        let mut slot = self.slots[i].lock().await;
        if slot.conn.is_some() {
            self.moved(&mut slot, None);
            slot.conn = None;
        }
    }

    async fn run<T, F, Fut>(&self, name: &'static str, op: F) -> Result<T, DirError>
    where
        F: FnOnce(Ldap) -> Fut,
        Fut: Future<Output = Result<T, DirError>>,
    {
        let started = Instant::now();
        let handle = self.handle().await;
        let (i, h) = match handle {
            Ok(x) => x,
            Err(e) => {
                self.record(name, &Err::<(), _>(e.clone()), started);
                return Err(e);
            }
        };
        self.in_use.fetch_add(1, Ordering::Relaxed);
        let out = within(self.cfg.timeout, op(h)).await;
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        self.record(name, &out, started);
        if let Err(e) = &out {
            if is_transport(e) {
                self.discard(i).await;
            }
        }
        out
    }

    fn controls(&self, read: &[String], pre: Option<&Precondition>) -> Vec<RawControl> {
        let mut c = Vec::new();
        if self.caps.post_read && !read.is_empty() {
            c.push(PostRead::new(read.to_vec()));
        }
        if let Some(p) = pre {
            let f = Filter::Equal(p.attribute.clone(), p.value.clone()).to_string();
            c.push(Assertion { filter: f }.critical().into());
        }
        c
    }

    /// One page of a sorted search fetched by offset (VLV): the server counts
    /// the matches and sends only the window.
    async fn search_by_offset(&self, s: &Search, page: &Page, order: Sort) -> ByOffset {
        let request = vlv::Request::for_window(page.skip, page.take);
        let filter = s.filter.to_string();
        let (base, sc, attrs) = (s.base.clone(), scope(s.scope), s.attrs.clone());
        let search = |mut h: Ldap| async move {
            let ldap3::SearchResult(rs, res) = h
                .with_controls(vec![sort_control(&order), request.control()])
                .search(&base, sc, &filter, attrs)
                .await
                .map_err(dir_err)?;
            Ok((rs, res))
        };
        let out = if self.offset_pooled.load(Ordering::Relaxed) {
            self.run("search_by_offset", search).await
        } else {
            self.on_own_connection("search_by_offset", search).await
        };
        let (rs, res) = match out {
            Ok(x) => x,
            Err(e) => return ByOffset::Failed(e),
        };
        let answer = res
            .ctrls
            .iter()
            .find(|c| c.1.ctype == vlv::RESPONSE_OID)
            .map(|c| vlv::Response::parse(c.1.val.as_deref().unwrap_or_default()));
        if let Some(Ok(r)) = &answer {
            // A server that keeps no list per connection can share them.
            if !r.context {
                self.offset_pooled.store(true, Ordering::Relaxed);
            }
        }
        let r = match (res.rc, answer) {
            (0, Some(Ok(r))) if r.result == 0 => r,
            (_, Some(Ok(r))) if vlv::is_offset_range_error(r.result) => {
                // startIndex past the end: nothing to return, but the count.
                return ByOffset::Done(Window {
                    total: r.content_count,
                    entries: Vec::new(),
                });
            }
            (super::rc::NO_SUCH_OBJECT, _) => return ByOffset::Done(Window::default()),
            (0, Some(Ok(r))) => {
                return ByOffset::Refused(format!("VLV result {}", vlv::result_name(r.result)));
            }
            (0, Some(Err(e))) => return ByOffset::Failed(DirError::Protocol(e)),
            (0, None) => return ByOffset::Refused("no VLV response control".to_owned()),
            (rc, _) if refuses_offset(rc) => {
                return ByOffset::Refused(format!("LDAP result {rc}: {}", res.text));
            }
            (rc, _) => {
                return ByOffset::Failed(match check(res) {
                    Err(e) => e,
                    Ok(_) => DirError::Protocol(format!("unexpected VLV answer {rc}")),
                });
            }
        };
        let rs: Vec<ResultEntry> = rs
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .collect();
        let keep = r.keep(page.skip, page.take, rs.len());
        let kept = rs.into_iter().skip(keep.start).take(keep.len());
        match entries(kept.collect()) {
            Ok(list) => {
                if let Some(m) = &self.metrics {
                    m.listed("by_offset", list.len());
                }
                ByOffset::Done(Window {
                    total: r.content_count,
                    entries: list,
                })
            }
            Err(e) => ByOffset::Failed(e),
        }
    }

    /// Runs `op` on a connection of its own, closed afterwards: for searches
    /// that leave state on their connection (OpenLDAP's sssvlv keeps each
    /// VLV list until the connection closes and meanwhile refuses every
    /// other sorted search on it with busy).
    async fn on_own_connection<T, F, Fut>(&self, name: &'static str, op: F) -> Result<T, DirError>
    where
        F: FnOnce(Ldap) -> Fut,
        Fut: Future<Output = Result<T, DirError>>,
    {
        let started = Instant::now();
        let out = match self.open().await {
            Ok((mut ldap, _)) => {
                let h = ldap.clone();
                let out = within(self.cfg.timeout, op(h)).await;
                // Bounded too: a server that stopped reading must not hold
                // the answer the search already has.
                let _ = tokio::time::timeout(self.cfg.timeout, ldap.unbind()).await;
                out
            }
            Err(e) => Err(e),
        };
        self.record(name, &out, started);
        out
    }

    /// The log line for a page that could not be fetched by offset: once per
    /// daemon, at warn (each one is counted as a `search_by_offset` outcome).
    fn offset_refused(&self, s: &Search, why: &str) {
        if let Some(m) = &self.metrics {
            m.ldap("search_by_offset", "refused", Duration::ZERO);
        }
        if !self.offset_refusal_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(base = %s.base, filter = %s.filter, reason = %why,
                "the directory would not fetch a list page by offset (VLV); reading the matches through instead, up to server.max_list_entries. On 389-ds, a VLV index for this search avoids it (see the README); this is logged once");
        } else {
            tracing::debug!(base = %s.base, filter = %s.filter, reason = %why, "list page read through instead of by offset");
        }
    }

    /// Counts every match and keeps the window, streaming through paged
    /// results (or sorted by the server) and stopping past `page.max_read`.
    async fn search_through(&self, s: Search, page: Page) -> Result<Window, DirError> {
        let filter = s.filter.to_string();
        let paged = self.caps.paged_results;
        let Page {
            skip,
            take,
            sort,
            max_read,
            ..
        } = page;
        let w = self
            .run("search", |mut h| async move {
                let mut adapters: Vec<Box<dyn Adapter<String, Vec<String>>>> =
                    vec![Box::new(EntriesOnly::new())];
                if paged && sort.is_none() {
                    adapters.push(Box::new(PagedResults::new(PAGE_SIZE)));
                }
                if let Some(so) = &sort {
                    h.with_controls(vec![sort_control(so)]);
                }
                let mut stream = h
                    .streaming_search_with(adapters, &s.base, scope(s.scope), &filter, s.attrs)
                    .await
                    .map_err(dir_err)?;
                let mut w = Window::default();
                while let Some(e) = stream.next().await.map_err(dir_err)? {
                    let bad = if w.total >= max_read {
                        Some(DirError::TooMany { limit: max_read })
                    } else if w.total >= skip && w.entries.len() < take {
                        to_entry(e.0).map(|entry| w.entries.push(entry)).err()
                    } else {
                        None
                    };
                    if let Some(bad) = bad {
                        // Stop the rest of the search on the server too.
                        let id = stream.ldap_handle().last_id();
                        let _ = stream.ldap_handle().abandon(id).await;
                        return Err(bad);
                    }
                    w.total += 1;
                }
                let res = stream.finish().await;
                match res.rc {
                    0 => Ok(w),
                    super::rc::NO_SUCH_OBJECT => Ok(Window::default()),
                    _ => check(res).map(|_| w),
                }
            })
            .await;
        if let (Some(m), Ok(w)) = (&self.metrics, &w) {
            m.listed("read_through", w.total);
        }
        w
    }

    /// Operations currently waiting on the directory.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Slots holding a connection (a slot busy reconnecting counts as not).
    pub fn connected_hint(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| {
                s.try_lock()
                    .is_ok_and(|mut g| g.conn.as_mut().is_some_and(|c| !c.is_closed()))
            })
            .count()
    }

    async fn read_back(&self, dn: &str, read: &[String]) -> Result<Option<Entry>, DirError> {
        if read.is_empty() {
            return Ok(None);
        }
        let s = Search {
            base: dn.to_owned(),
            scope: Scope::Base,
            filter: Filter::everything(),
            attrs: read.to_vec(),
        };
        Ok(self.search(s).await?.into_iter().next())
    }
}

impl Directory for LdapPool {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn search(&self, s: Search) -> Result<Vec<Entry>, DirError> {
        let filter = s.filter.to_string();
        self.run("search", |mut h| async move {
            let (rs, _) = h
                .search(&s.base, scope(s.scope), &filter, s.attrs)
                .await
                .map_err(dir_err)?
                .non_error()
                .map_err(dir_err)?;
            rs.into_iter()
                .filter(|e| !e.is_ref() && !e.is_intermediate())
                .map(|e| to_entry(e.0))
                .collect()
        })
        .await
        .or_else(|e| match e {
            // A base that does not exist holds nothing.
            DirError::Result {
                rc: super::rc::NO_SUCH_OBJECT,
                ..
            } => Ok(Vec::new()),
            e => Err(e),
        })
    }

    async fn search_window(&self, s: Search, page: Page) -> Result<Window, DirError> {
        if let Some(order) = page.offset_order.clone().filter(|_| self.caps.vlv) {
            match self.search_by_offset(&s, &page, order).await {
                ByOffset::Done(w) => return Ok(w),
                ByOffset::Failed(e) => return Err(e),
                ByOffset::Refused(why) => self.offset_refused(&s, &why),
            }
        }
        self.search_through(s, page).await
    }

    async fn add(
        &self,
        dn: &str,
        attrs: Vec<(String, Vec<String>)>,
        read: &[String],
    ) -> Result<Option<Entry>, DirError> {
        let controls = self.controls(read, None);
        let dn_owned = dn.to_owned();
        let attrs: Vec<(String, HashSet<String>)> = attrs
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        let res = self
            .run("add", |mut h| async move {
                h.with_controls(controls)
                    .add(&dn_owned, attrs)
                    .await
                    .map_err(dir_err)
                    .and_then(check)
            })
            .await?;
        match post_read(dn, &res) {
            Some(e) => Ok(Some(e)),
            None => self.read_back(dn, read).await,
        }
    }

    async fn modify(
        &self,
        dn: &str,
        mods: Vec<Mod>,
        read: &[String],
        pre: Option<&Precondition>,
    ) -> Result<Option<Entry>, DirError> {
        if mods.is_empty() {
            return self.read_back(dn, read).await;
        }
        let controls = self.controls(read, pre);
        let dn_owned = dn.to_owned();
        let mods = to_ldap3_mods(mods);
        let res = self
            .run("modify", |mut h| async move {
                h.with_controls(controls)
                    .modify(&dn_owned, mods)
                    .await
                    .map_err(dir_err)
                    .and_then(check)
            })
            .await?;
        match post_read(dn, &res) {
            Some(e) => Ok(Some(e)),
            None => self.read_back(dn, read).await,
        }
    }

    async fn rename(
        &self,
        dn: &str,
        new_rdn: &str,
        read: &[String],
        pre: Option<&Precondition>,
    ) -> Result<Option<Entry>, DirError> {
        let controls = self.controls(read, pre);
        let (dn_owned, rdn_owned) = (dn.to_owned(), new_rdn.to_owned());
        let res = self
            .run("modrdn", |mut h| async move {
                h.with_controls(controls)
                    .modifydn(&dn_owned, &rdn_owned, true, None)
                    .await
                    .map_err(dir_err)
                    .and_then(check)
            })
            .await?;
        let parent = crate::ldap::Dn::parse(dn)
            .map(|d| d.parent().to_string())
            .unwrap_or_default();
        let new_dn = if parent.is_empty() {
            new_rdn.to_owned()
        } else {
            format!("{new_rdn},{parent}")
        };
        match post_read(&new_dn, &res) {
            Some(e) => Ok(Some(e)),
            None => self.read_back(&new_dn, read).await,
        }
    }

    async fn delete(&self, dn: &str, pre: Option<&Precondition>) -> Result<(), DirError> {
        let controls = self.controls(&[], pre);
        let dn_owned = dn.to_owned();
        self.run("delete", |mut h| async move {
            h.with_controls(controls)
                .delete(&dn_owned)
                .await
                .map_err(dir_err)
                .and_then(check)
        })
        .await
        .map(|_| ())
    }

    async fn set_password(&self, dn: &str, password: &SecretString) -> Result<(), DirError> {
        let dn_owned = dn.to_owned();
        let pw = password.clone();
        self.run("passwordModify", |mut h| async move {
            let exop = PasswordModify {
                user_id: Some(&dn_owned),
                old_pass: None,
                new_pass: Some(pw.expose_secret()),
            };
            h.extended(exop)
                .await
                .map_err(dir_err)
                .and_then(|r| check(r.1))
        })
        .await
        .map(|_| ())
    }

    async fn ready(&self) -> bool {
        let s = Search {
            base: String::new(),
            scope: Scope::Base,
            filter: Filter::everything(),
            attrs: crate::ldap::no_attributes(),
        };
        self.search(s).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::PL;

    fn prim(id: u64, b: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id,
            payload: PL::P(b.to_vec()),
        }
    }

    fn cons(class: TagClass, id: u64, inner: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class,
            id,
            payload: PL::C(inner),
        }
    }

    fn attr(name: &str, vals: &[&[u8]]) -> StructureTag {
        attr_raw(name.as_bytes(), vals)
    }

    fn attr_raw(name: &[u8], vals: &[&[u8]]) -> StructureTag {
        cons(
            TagClass::Universal,
            16,
            vec![
                prim(4, name),
                cons(
                    TagClass::Universal,
                    17,
                    vals.iter().map(|v| prim(4, v)).collect(),
                ),
            ],
        )
    }

    fn entry(dn: &str, attrs: Vec<StructureTag>) -> StructureTag {
        entry_raw(dn.as_bytes(), attrs)
    }

    fn entry_raw(dn: &[u8], attrs: Vec<StructureTag>) -> StructureTag {
        cons(
            TagClass::Application,
            4,
            vec![prim(4, dn), cons(TagClass::Universal, 16, attrs)],
        )
    }

    #[test]
    fn replication_state_compares_per_replica() {
        let csns = [
            "dc=x\n20261203075936.159908Z#000000#001#000000".to_owned(),
            "dc=x\n20261203075938.815205Z#000000#002#000000".to_owned(),
        ];
        let ruv = [
            "dc=y\n{replicageneration} 692fecc8000000010000".to_owned(),
            "dc=y\n{replica 1 ldap://localhost:51355} 692fecc8000000010000 692fed02000300010000"
                .to_owned(),
            "dc=y\n{replica 2 ldap://localhost:56703}".to_owned(),
        ];
        let state = parse_replication_state(&csns, &ruv);
        assert_eq!(
            state.into_iter().collect::<Vec<_>>(),
            [
                (
                    "dc=x 001".to_owned(),
                    "20261203075936.159908Z#000000#001#000000".to_owned()
                ),
                (
                    "dc=x 002".to_owned(),
                    "20261203075938.815205Z#000000#002#000000".to_owned()
                ),
                ("dc=y 1".to_owned(), "692fed02000300010000".to_owned()),
            ]
        );
        let want = parse_replication_state(&csns, &ruv);
        assert!(covers(&want, &want));
        // The newest change (replica 002's) is what must have arrived.
        let mut behind = want.clone();
        behind.insert(
            "dc=x 002".to_owned(),
            "20261203075937.000000Z#000000#002#000000".to_owned(),
        );
        assert!(
            !covers(&behind, &want),
            "an older CSN of the newest replica"
        );
        let mut missing = want.clone();
        missing.remove("dc=x 002");
        assert!(
            !covers(&missing, &want),
            "the newest replica not seen at all"
        );
        // An older change recorded late (a crashed server's own) does not matter.
        let mut stale = want.clone();
        stale.insert(
            "dc=x 001".to_owned(),
            "20261203075900.000000Z#000000#001#000000".to_owned(),
        );
        assert!(covers(&stale, &want));
        assert!(
            covers(&Default::default(), &Default::default()),
            "nothing to compare"
        );
    }

    #[test]
    fn entries_parse_straight_from_ber() {
        let e = to_entry(entry(
            "uid=a,ou=people,dc=example,dc=com",
            vec![
                attr("cn", &[b"A", b"B"]),
                attr("userCertificate;binary", &[b"\xff\x00"]),
                attr("CN;lang-de", &[b"C"]),
                attr("memberOf", &[]),
            ],
        ))
        .unwrap_or_default();
        assert_eq!(e.dn.to_string(), "uid=a,ou=people,dc=example,dc=com");
        assert_eq!(e.values("cn"), ["A", "B", "C"]);
        assert_eq!(e.values("usercertificate"), ["\u{fffd}\u{0}"]);
        assert!(e.values("memberof").is_empty());
    }

    #[test]
    fn malformed_entries_are_protocol_errors() {
        let cases = [
            // not a SearchResultEntry
            cons(TagClass::Application, 5, vec![]),
            // the right number in the wrong class
            cons(
                TagClass::Universal,
                4,
                vec![prim(4, b"dc=x"), cons(TagClass::Universal, 16, vec![])],
            ),
            // a DN that is not UTF-8
            entry_raw(b"dc=\xff", vec![]),
            // an attribute type that is not UTF-8
            entry("dc=x", vec![attr_raw(b"c\xffn", &[b"a"])]),
            // no attribute list
            cons(TagClass::Application, 4, vec![prim(4, b"dc=x")]),
            // a primitive where the attribute sequence belongs
            entry("dc=x", vec![prim(4, b"cn")]),
            // an attribute without values
            entry(
                "dc=x",
                vec![cons(TagClass::Universal, 16, vec![prim(4, b"cn")])],
            ),
            // a constructed value
            entry(
                "dc=x",
                vec![cons(
                    TagClass::Universal,
                    16,
                    vec![
                        prim(4, b"cn"),
                        cons(
                            TagClass::Universal,
                            17,
                            vec![cons(TagClass::Universal, 16, vec![])],
                        ),
                    ],
                )],
            ),
        ];
        for c in cases {
            let got = to_entry(c.clone());
            assert!(
                matches!(got, Err(DirError::Protocol(_))),
                "{c:?} gave {got:?}"
            );
        }
    }

    #[test]
    fn post_read_answers_parse_or_fall_back() {
        let result = |val: Option<Vec<u8>>| LdapResult {
            rc: 0,
            matched: String::new(),
            text: String::new(),
            refs: Vec::new(),
            ctrls: val
                .map(|v| {
                    ldap3::controls::Control(
                        None,
                        RawControl {
                            ctype: oid::POST_READ.to_owned(),
                            crit: false,
                            val: Some(v),
                        },
                    )
                })
                .into_iter()
                .collect(),
        };
        let mut ber = bytes::BytesMut::new();
        let tag = entry(
            "UID=A,OU=People,DC=example,DC=com",
            vec![attr("entryUUID", &[b"u-1"])],
        );
        ldap3::asn1::write::encode_into(&mut ber, tag).unwrap_or_default();
        let e = post_read(
            "uid=a,ou=people,dc=example,dc=com",
            &result(Some(ber.to_vec())),
        );
        let e = e.unwrap_or_default();
        assert_eq!(
            e.dn.to_string(),
            "uid=a,ou=people,dc=example,dc=com",
            "the DN the write named"
        );
        assert_eq!(e.values("entryuuid"), ["u-1"]);
        // A value that is not BER, or not an entry: read the entry instead.
        assert!(post_read("dc=x", &result(Some(vec![0x30, 0x85]))).is_none());
        assert!(post_read("dc=x", &result(Some(vec![0x04, 0x01, 0x41]))).is_none());
        assert!(post_read("dc=x", &result(None)).is_none());
    }
}
