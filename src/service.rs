//! The only code that sequences directory calls: get, list, create, replace,
//! patch and delete of users and groups.
//!
//! Each operation is written for the fewest round trips: the entry and the ids
//! a request refers to are looked up concurrently; all ids resolve in one
//! search; a write's result comes back in the write itself (PostRead); member
//! DNs resolve to ids in batched searches, never one per member. Searches stay
//! inside the configured bases, so nothing outside them is ever read or
//! written.

use std::sync::Arc;

use serde_json::Value;

use crate::config::Config;
use crate::directory::{DirError, Directory, Precondition, Scope, Search, Sort, rc};
use crate::error::{Error, ScimType};
use crate::ldap::{self, Dn, Entry, Filter, Mod};
use crate::mapping::patch::{Plan, plan_create, plan_patch, plan_replace};
use crate::mapping::resource::{self, ReadContext};
use crate::mapping::{self, AttrMap, Maps, RefEntry, Refs, ResourceKind};
use crate::scim::filter::Limits;
use crate::scim::query::{Params, Projection, Query, SortOrder};
use crate::scim::{patch, schema};
use crate::telemetry::Metrics;

/// A fresh value for the version token: unique per process and time.
fn new_token() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{nanos:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Most ids or names in one OR filter; larger sets are split into several
/// searches sent concurrently on the multiplexed connections.
const BATCH: usize = 500;
/// Attempts of a write that lost a race: a value added or removed meanwhile,
/// or the entry moved between finding it by id and writing it (renamed by
/// another writer, or by an earlier attempt of the same request that the
/// directory carried out after it had timed out). Each attempt finds the
/// entry by id again, so an entry that is really gone answers 404.
const RACE_RETRIES: usize = 3;

/// Who asks and where they reach us, for locations and the audit log.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `https://host/scim/v2`.
    pub base_url: String,
    /// The name of the token the request carried.
    pub actor: String,
}

/// How a plan is written.
struct Write<'a> {
    /// Checked atomically by the Assertion control.
    pre: Option<Precondition>,
    /// The client's If-Match names a version (the version token is
    /// compared-and-swapped, and a failed assertion is a 412).
    if_match: bool,
    /// The caller answers with the entry after the write.
    read_back: bool,
    /// What the write is, for error messages.
    what: &'a str,
    /// The caller may plan again (it has attempts left): the execution then
    /// answers `None` when the entry changed or moved before anything was
    /// written. Also lets the modify be guarded by the version just read
    /// (Assertion control), reading back only what the server changes.
    guard: bool,
}

/// A resource and its ETag.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub resource: Value,
    pub etag: Option<String>,
}

/// The service over a directory.
pub struct Service<D> {
    pub dir: D,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
}

/// Whether an If-Match header names a version (`*` only asks that the
/// resource exists, which finding it already showed).
fn names_a_version(if_match: Option<&str>) -> bool {
    if_match.is_some_and(|t| t.trim() != "*")
}

/// Before finding a moved entry again: a short pause, growing per attempt,
/// lets the rename that moved it finish.
async fn moved_pause(attempt: usize) {
    tokio::time::sleep(std::time::Duration::from_millis(2 * attempt as u64)).await;
}

/// Before trying again a write the directory refused under contention (see
/// `busy`): long enough for the writes ahead of it to finish.
async fn contention_pause(attempt: usize) {
    tokio::time::sleep(std::time::Duration::from_millis(20 * attempt as u64)).await;
}

/// The membership attribute and the empty-group placeholder DN of a map
/// that has one.
fn placeholder_of(map: &AttrMap) -> Option<(String, String)> {
    let m = map.members.as_ref()?;
    let ph = m.placeholder.as_ref()?;
    Some((m.attribute.clone(), ph.to_string()))
}

/// A write refused with noSuchObject although its entry is there. 389-ds
/// answers so when it cannot lock the entry (or, for an add, the parent) in
/// time under concurrent writes ("Retry count exceeded" in its error log):
/// retryable, for the daemon after `contention_pause` and for the client.
fn busy(what: &str, dn: &str, text: &str) -> Error {
    Error::Unavailable(format!(
        "{what}: the directory could not change {dn} just now ({text})"
    ))
}

/// The membership attribute and placeholder of a map that has one, when
/// `mods` adds values of that attribute (or, with `removals`, deletes some).
fn placeholder_touched(map: &AttrMap, mods: &[Mod], removals: bool) -> Option<(String, String)> {
    let (attr, ph) = placeholder_of(map)?;
    mods.iter()
        .any(|m| match m {
            Mod::Add(a, _) if !removals => a.eq_ignore_ascii_case(&attr),
            Mod::Delete(a, _) if removals => a.eq_ignore_ascii_case(&attr),
            _ => false,
        })
        .then_some((attr, ph))
}

fn not_found(kind: ResourceKind, id: &str) -> Error {
    Error::NotFound(format!("{} {id} not found", kind.name()))
}

/// Renders a directory failure for the client, naming the SCIM and LDAP
/// attribute at fault where the server's message names one.
pub fn dir_error(map: &AttrMap, e: DirError, what: &str) -> Error {
    match e {
        DirError::Result {
            rc: rc::ENTRY_ALREADY_EXISTS,
            ..
        } => Error::Conflict(format!(
            "{what}: an entry with this {} already exists",
            map.naming_field().path_text()
        )),
        DirError::Result {
            rc: rc::NO_SUCH_OBJECT,
            text,
        } => Error::NotFound(format!(
            "{what}: the entry no longer exists{}",
            if text.is_empty() {
                String::new()
            } else {
                format!(" ({text})")
            }
        )),
        DirError::Result {
            rc: rc::ASSERTION_FAILED,
            ..
        } => Error::PreconditionFailed(format!(
            "{what}: the resource changed since the version given in If-Match"
        )),
        DirError::Result {
            rc: rc::INSUFFICIENT_ACCESS,
            text,
        } => Error::Forbidden(format!(
            "{what}: the directory refused the bind DN this operation ({text})"
        )),
        DirError::Result {
            rc:
                rc::OBJECT_CLASS_VIOLATION
                | rc::CONSTRAINT_VIOLATION
                | rc::INVALID_ATTRIBUTE_SYNTAX
                | rc::UNDEFINED_ATTRIBUTE_TYPE
                | rc::NAMING_VIOLATION
                | rc::NOT_ALLOWED_ON_RDN
                | rc::INVALID_DN_SYNTAX
                | rc::ATTRIBUTE_OR_VALUE_EXISTS
                | rc::INAPPROPRIATE_MATCHING
                | rc::NO_SUCH_ATTRIBUTE,
            text,
        } => Error::invalid_value(format!(
            "{what}: the directory refused the change: {text}{}",
            hint(map, &text)
        )),
        DirError::Unavailable(s) => Error::Unavailable(s),
        DirError::Result { rc, text } => {
            Error::Internal(format!("{what}: LDAP result {rc}: {text}"))
        }
        DirError::Protocol(s) => Error::Internal(format!("{what}: {s}")),
    }
}

fn hint(map: &AttrMap, text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    for f in &map.fields {
        if words.contains(&f.ldap.to_ascii_lowercase().as_str()) {
            return format!(
                " (SCIM attribute {}, LDAP attribute {})",
                f.path_text(),
                f.ldap
            );
        }
    }
    for w in &words {
        if !w.is_empty()
            && map.defaults.iter().all(|(a, _)| !a.eq_ignore_ascii_case(w))
            && (lower.contains("requires attribute") || lower.contains("missing attribute"))
        {
            let sec = if map.kind == ResourceKind::User {
                "users"
            } else {
                "groups"
            };
            if lower.contains(&format!("'{w}'")) || lower.contains(&format!("\"{w}\"")) {
                return format!(
                    " (LDAP attribute {w} has no value: map a SCIM attribute to it or give it a template in [{sec}.defaults])"
                );
            }
        }
    }
    String::new()
}

fn parse_etag(tag: &str) -> String {
    let t = tag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.trim_matches('"').to_owned()
}

impl<D: Directory> Service<D> {
    pub fn new(dir: D, config: Arc<Config>, metrics: Arc<Metrics>) -> Service<D> {
        Service {
            dir,
            config,
            metrics,
        }
    }

    fn maps(&self) -> Maps<'_> {
        Maps {
            users: &self.config.users,
            groups: self.config.groups.as_ref(),
        }
    }

    fn map(&self, kind: ResourceKind) -> Result<&AttrMap, Error> {
        self.config.map(kind).ok_or_else(|| {
            Error::NotFound(format!(
                "{} are not configured here (no [groups] section)",
                kind.endpoint()
            ))
        })
    }

    fn filter_limits(&self) -> Limits {
        Limits::default()
    }

    /// The entry behind an id, read with `attrs`.
    async fn find(&self, map: &AttrMap, id: &str, attrs: Vec<String>) -> Result<Entry, Error> {
        if !map.is_valid_id(id) {
            return Err(not_found(map.kind, id));
        }
        let s = Search {
            base: map.base.to_string(),
            scope: Scope::Subtree,
            filter: Filter::Equal(map.id_attribute.clone(), id.to_owned()),
            attrs,
        };
        let found = self
            .dir
            .search(s)
            .await
            .map_err(|e| dir_error(map, e, "read"))?;
        found
            .into_iter()
            .find(|e| Dn::parse(&e.dn).is_ok_and(|d| d.is_within(&map.base)))
            .ok_or_else(|| not_found(map.kind, id))
    }

    fn display_attr(map: &AttrMap) -> String {
        map.fields
            .iter()
            .find(|f| f.attr == "displayName" && f.is_core(map.kind))
            .map(|f| f.ldap.clone())
            .unwrap_or_else(|| map.rdn.clone())
    }

    fn ref_entry(map: &AttrMap, e: &Entry) -> Option<RefEntry> {
        let dn = Dn::parse(&e.dn).ok()?;
        Some(RefEntry {
            id: e.first(&map.id_attribute)?.to_owned(),
            kind: map.kind,
            rdn_value: dn
                .rdn_value(&map.rdn)
                .map(str::to_owned)
                .or_else(|| e.first(&map.rdn).map(str::to_owned))?,
            dn: e.dn.clone(),
            display: e.first(&Self::display_attr(map)).map(str::to_owned),
        })
    }

    fn ref_attrs(&self) -> Vec<String> {
        let maps = self.maps();
        let mut v = vec![
            maps.users.id_attribute.clone(),
            maps.users.rdn.clone(),
            Self::display_attr(maps.users),
        ];
        if let Some(g) = maps.groups {
            v.extend([g.id_attribute.clone(), g.rdn.clone(), Self::display_attr(g)]);
        }
        mapping::dedup_ci(v)
    }

    /// Resolves ids of users and groups in one search per batch, at the
    /// deepest DN both bases share; hits outside the bases are dropped.
    pub async fn resolve_ids(&self, ids: &[String]) -> Result<Refs, Error> {
        let maps = self.maps();
        let mut refs = Refs::default();
        let mut valid: Vec<&String> = ids
            .iter()
            .filter(|id| {
                maps.users.is_valid_id(id) || maps.groups.is_some_and(|g| g.is_valid_id(id))
            })
            .collect();
        valid.sort();
        valid.dedup();
        if valid.is_empty() {
            return Ok(refs);
        }
        let mut id_attrs = vec![maps.users.id_attribute.clone()];
        let mut bases = vec![maps.users.base.clone()];
        if let Some(g) = maps.groups {
            id_attrs.push(g.id_attribute.clone());
            bases.push(g.base.clone());
        }
        let id_attrs = mapping::dedup_ci(id_attrs);
        let common = bases
            .iter()
            .skip(1)
            .fold(bases[0].clone(), |acc, b| Dn::common_ancestor(&acc, b));
        let search_bases: Vec<Dn> = if common.is_empty() {
            bases
        } else {
            vec![common]
        };
        let mut searches = Vec::new();
        for chunk in valid.chunks(BATCH) {
            let filter = Filter::or(
                chunk
                    .iter()
                    .flat_map(|id| {
                        id_attrs
                            .iter()
                            .map(move |a| Filter::Equal(a.clone(), (*id).clone()))
                    })
                    .collect(),
            );
            for base in &search_bases {
                searches.push(Search {
                    base: base.to_string(),
                    scope: Scope::Subtree,
                    filter: filter.clone(),
                    attrs: self.ref_attrs(),
                });
            }
        }
        let results =
            futures_util::future::join_all(searches.into_iter().map(|s| self.dir.search(s))).await;
        for r in results {
            for e in r.map_err(|e| dir_error(maps.users, e, "resolving ids"))? {
                let Ok(dn) = Dn::parse(&e.dn) else { continue };
                let Some(kind) = maps.kind_of(&dn) else {
                    continue;
                };
                if let Some(m) = maps.get(kind) {
                    if let Some(r) = Self::ref_entry(m, &e) {
                        refs.insert(r);
                    }
                }
            }
        }
        Ok(refs)
    }

    /// Resolves DNs (and memberUid values) to ids, batching one OR filter of
    /// RDNs per base.
    async fn resolve_dns(
        &self,
        dns: &[String],
        rdn_values: &[String],
        refs: &mut Refs,
    ) -> Result<(), Error> {
        let maps = self.maps();
        let mut per_kind: Vec<(ResourceKind, Vec<Filter>)> = Vec::new();
        let mut push =
            |kind: ResourceKind, f: Filter| match per_kind.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, v)) => v.push(f),
                None => per_kind.push((kind, vec![f])),
            };
        for dn in dns {
            if refs.dn(dn).is_some() {
                continue;
            }
            let Ok(d) = Dn::parse(dn) else { continue };
            let Some(kind) = maps.kind_of(&d) else {
                continue;
            };
            let rdn = d.rdn();
            if rdn.is_empty() {
                continue;
            }
            push(
                kind,
                Filter::and(
                    rdn.iter()
                        .map(|a| Filter::Equal(a.attr.clone(), a.value.clone()))
                        .collect(),
                ),
            );
        }
        for v in rdn_values {
            if refs.rdn_value(ResourceKind::User, v).is_none() {
                push(
                    ResourceKind::User,
                    Filter::Equal(maps.users.rdn.clone(), v.clone()),
                );
            }
        }
        let mut searches = Vec::new();
        for (kind, filters) in per_kind {
            let Some(m) = maps.get(kind) else { continue };
            let mut filters = filters;
            filters.sort_by_key(|f| f.to_string());
            filters.dedup();
            for chunk in filters.chunks(BATCH) {
                searches.push((
                    m,
                    Search {
                        base: m.base.to_string(),
                        scope: Scope::Subtree,
                        filter: Filter::or(chunk.to_vec()),
                        attrs: vec![m.id_attribute.clone(), m.rdn.clone(), Self::display_attr(m)],
                    },
                ));
            }
        }
        let results = futures_util::future::join_all(
            searches
                .into_iter()
                .map(|(m, s)| async move { (m, self.dir.search(s).await) }),
        )
        .await;
        for (m, r) in results {
            for e in r.map_err(|e| dir_error(m, e, "resolving members"))? {
                if Dn::parse(&e.dn).is_ok_and(|d| d.is_within(&m.base)) {
                    if let Some(r) = Self::ref_entry(m, &e) {
                        refs.insert(r);
                    }
                }
            }
        }
        Ok(())
    }

    /// Group DNs a user is in, by searching the membership attribute when the
    /// server keeps no memberOf.
    async fn groups_of(&self, user: &Entry, refs: &mut Refs) -> Result<Option<Vec<String>>, Error> {
        let maps = self.maps();
        let (Some(g), None) = (maps.groups, &maps.users.member_of) else {
            return Ok(None);
        };
        let Some(m) = &g.members else { return Ok(None) };
        let value = match m.value {
            mapping::MemberValue::Dn => user.dn.clone(),
            mapping::MemberValue::RdnValue => match Dn::parse(&user.dn)
                .ok()
                .and_then(|d| d.rdn_value(&maps.users.rdn).map(str::to_owned))
            {
                Some(v) => v,
                None => return Ok(Some(Vec::new())),
            },
        };
        let s = Search {
            base: g.base.to_string(),
            scope: Scope::Subtree,
            filter: Filter::Equal(m.attribute.clone(), value),
            attrs: vec![g.id_attribute.clone(), g.rdn.clone(), Self::display_attr(g)],
        };
        let found = self
            .dir
            .search(s)
            .await
            .map_err(|e| dir_error(g, e, "reading groups"))?;
        let mut dns = Vec::new();
        for e in found {
            if let Some(r) = Self::ref_entry(g, &e) {
                dns.push(e.dn.clone());
                refs.insert(r);
            }
        }
        Ok(Some(dns))
    }

    /// Turns entries into resources, resolving every reference they hold in
    /// batched searches.
    async fn render(
        &self,
        map: &AttrMap,
        entries: &[Entry],
        projection: &Projection,
        ctx: &Ctx,
        mut refs: Refs,
    ) -> Result<Vec<Value>, Error> {
        let mut dns = Vec::new();
        let mut rdns = Vec::new();
        for e in entries {
            dns.extend(resource::referenced_dns(map, e, projection));
            rdns.extend(resource::referenced_rdn_values(map, e, projection));
        }
        self.resolve_dns(&dns, &rdns, &mut refs).await?;
        let wants_groups = map.kind == ResourceKind::User
            && projection.wants(map.kind.core_schema(), "groups", Some("value"), false);
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let groups = if wants_groups {
                self.groups_of(e, &mut refs).await?
            } else {
                None
            };
            let rc = ReadContext {
                maps: self.maps(),
                base_url: &ctx.base_url,
                refs: &refs,
                groups: groups.as_deref(),
            };
            out.push(resource::to_resource(map, e, &rc, projection));
        }
        Ok(out)
    }

    async fn render_one(
        &self,
        map: &AttrMap,
        e: &Entry,
        projection: &Projection,
        ctx: &Ctx,
        refs: Refs,
    ) -> Result<Versioned, Error> {
        let resource = self
            .render(map, std::slice::from_ref(e), projection, ctx, refs)
            .await?
            .pop()
            .unwrap_or(Value::Null);
        Ok(Versioned {
            resource,
            etag: resource::version(map, e),
        })
    }

    /// `GET /{Users|Groups}/{id}`.
    pub async fn get(
        &self,
        kind: ResourceKind,
        id: &str,
        projection: &Projection,
        ctx: &Ctx,
    ) -> Result<Versioned, Error> {
        let map = self.map(kind)?;
        let e = self
            .find(map, id, resource::attributes_for(map, projection))
            .await?;
        self.render_one(map, &e, projection, ctx, Refs::default())
            .await
    }

    /// `GET /{Users|Groups}?…` and `POST /.search`.
    pub async fn list(
        &self,
        kind: ResourceKind,
        params: &Params,
        ctx: &Ctx,
    ) -> Result<Value, Error> {
        let map = self.map(kind)?;
        let q = params.parse(self.filter_limits())?;
        let (total, resources) = self.query(map, &q, ctx).await?;
        Ok(self.list_response(&q, total, resources))
    }

    fn list_response(&self, q: &Query, total: usize, resources: Vec<Value>) -> Value {
        crate::scim::list_response(total, q.start_index, resources)
    }

    /// `POST /.search` at the root: users and groups together.
    pub async fn search_all(&self, params: &Params, ctx: &Ctx) -> Result<Value, Error> {
        let q = params.parse(self.filter_limits())?;
        if q.sort_by.is_some() {
            return Err(Error::bad(
                ScimType::InvalidValue,
                "sortBy is not supported across resource types; search /Users or /Groups",
            ));
        }
        let count = self.page_size(&q);
        let mut total = 0;
        let mut resources = Vec::new();
        let mut skip = q.start_index - 1;
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let Some(map) = self.config.map(kind) else {
                continue;
            };
            let take = count.saturating_sub(resources.len());
            let sub = Query {
                start_index: skip + 1,
                count: Some(take),
                ..q.clone()
            };
            // An attribute only the other type maps matches nothing here.
            let (t, mut r) = self.query_with(map, &sub, ctx, false).await?;
            skip = skip.saturating_sub(t);
            total += t;
            resources.append(&mut r);
        }
        Ok(self.list_response(&q, total, resources))
    }

    fn page_size(&self, q: &Query) -> usize {
        q.count
            .unwrap_or(self.config.server.default_page_size)
            .min(self.config.server.max_page_size)
    }

    async fn query(
        &self,
        map: &AttrMap,
        q: &Query,
        ctx: &Ctx,
    ) -> Result<(usize, Vec<Value>), Error> {
        self.query_with(map, q, ctx, true).await
    }

    async fn query_with(
        &self,
        map: &AttrMap,
        q: &Query,
        ctx: &Ctx,
        strict: bool,
    ) -> Result<(usize, Vec<Value>), Error> {
        let refs = match &q.filter {
            Some(f) => {
                self.resolve_ids(&mapping::filter::reference_ids(map, f))
                    .await?
            }
            None => Refs::default(),
        };
        if let (Some(f), Some(ordered)) = (&q.filter, &self.dir.capabilities().ordered_attributes) {
            if let Some((path, attr)) = mapping::filter::ordering_attributes(map, f)
                .into_iter()
                .find(|(_, a)| !ordered.contains(&a.to_ascii_lowercase()))
            {
                return Err(Error::bad(
                    ScimType::InvalidFilter,
                    format!(
                        "{path}: LDAP attribute {attr} has no ORDERING rule on this directory, so gt, ge, lt and le cannot be answered"
                    ),
                ));
            }
        }
        if let Some(f) = &q.filter {
            let unmatchable = &self.dir.capabilities().unmatchable_attributes;
            if let Some((path, attr)) = mapping::filter::equality_attributes(map, f)
                .into_iter()
                .find(|(_, a)| unmatchable.contains(&a.to_ascii_lowercase()))
            {
                return Err(Error::bad(
                    ScimType::InvalidFilter,
                    format!(
                        "{path}: LDAP attribute {attr} has no EQUALITY rule on this directory, so eq and ne cannot be answered"
                    ),
                ));
            }
        }
        let translated = match &q.filter {
            Some(f) if strict => mapping::filter::to_ldap(map, f, &refs)?,
            Some(f) => mapping::filter::to_ldap_lenient(map, f, &refs)?,
            None => Filter::everything(),
        };
        if translated.is_nothing() {
            // Decided without asking the directory (e.g. an id that cannot exist).
            return Ok((0, Vec::new()));
        }
        let sort = match &q.sort_by {
            None => None,
            Some(p) => {
                if !self.dir.capabilities().server_side_sort {
                    return Err(Error::bad(
                        ScimType::InvalidValue,
                        "sortBy: this directory does not offer server-side sorting (RFC 2891); see sort.supported in /ServiceProviderConfig",
                    ));
                }
                let f = map
                    .fields_of(p.schema.as_deref(), &p.attr)
                    .map(|(_, f)| f)
                    .find(|f| {
                        p.sub.as_deref().is_none_or(|s| {
                            f.sub
                                .as_deref()
                                .is_some_and(|fs| fs.eq_ignore_ascii_case(s))
                        })
                    })
                    .ok_or_else(|| {
                        Error::bad(
                            ScimType::InvalidValue,
                            format!("sortBy: {p} is not a mapped attribute"),
                        )
                    })?;
                Some(Sort {
                    attribute: f.ldap.clone(),
                    reverse: q.sort_order == SortOrder::Descending,
                })
            }
        };
        let take = self.page_size(q);
        // Entra's match (`userName eq`, `id eq`): an equality on the naming or
        // id attribute selects at most a few entries of this type, so one plain
        // search answers it, without paging or an object class condition.
        let unique_match = matches!(&translated, Filter::Equal(a, _) if a.eq_ignore_ascii_case(&map.rdn) || a.eq_ignore_ascii_case(&map.id_attribute));
        if unique_match && sort.is_none() {
            let s = Search {
                base: map.base.to_string(),
                scope: Scope::Subtree,
                filter: translated,
                attrs: resource::attributes_for(map, &q.projection),
            };
            let found: Vec<Entry> = self
                .dir
                .search(s)
                .await
                .map_err(|e| dir_error(map, e, "search"))?
                .into_iter()
                .filter(|e| Dn::parse(&e.dn).is_ok_and(|d| d.is_within(&map.base)))
                .collect();
            let total = found.len();
            let window: Vec<Entry> = found
                .into_iter()
                .skip(q.start_index - 1)
                .take(take)
                .collect();
            let resources = self
                .render(map, &window, &q.projection, ctx, Refs::default())
                .await?;
            return Ok((total, resources));
        }
        let filter = Filter::and(vec![
            Filter::Equal("objectClass".to_owned(), map.object_classes[0].clone()),
            translated,
        ]);
        let s = Search {
            base: map.base.to_string(),
            scope: Scope::Subtree,
            filter,
            // `count=0` asks for the total only: count without fetching attributes.
            attrs: if take == 0 {
                vec!["1.1".to_owned()]
            } else {
                resource::attributes_for(map, &q.projection)
            },
        };
        let sorted = sort.is_some();
        let w = self.dir.search_window(s, q.start_index - 1, take, sort).await.map_err(|e| match e {
            DirError::Result { rc: rc::UNWILLING_TO_PERFORM, text } if sorted => Error::bad(
                ScimType::InvalidValue,
                format!("sortBy: the directory refused to sort this search ({text}); servers sort only searches their indexes answer"),
            ),
            e => dir_error(map, e, "search"),
        })?;
        let entries: Vec<Entry> = w
            .entries
            .into_iter()
            .filter(|e| Dn::parse(&e.dn).is_ok_and(|d| d.is_within(&map.base)))
            .collect();
        let resources = self
            .render(map, &entries, &q.projection, ctx, Refs::default())
            .await?;
        Ok((w.total, resources))
    }

    fn audit(&self, ctx: &Ctx, op: &str, kind: ResourceKind, dn: &str, attrs: &[String]) {
        tracing::info!(target: "audit", actor = %ctx.actor, operation = op, resource = kind.name(), dn = %dn, attributes = ?attrs, "directory changed");
    }

    /// `POST /{Users|Groups}`.
    pub async fn create(
        &self,
        kind: ResourceKind,
        body: &Value,
        ctx: &Ctx,
    ) -> Result<Versioned, Error> {
        let map = self.map(kind)?;
        let refs = self
            .resolve_ids(&resource::reference_ids(map, body))
            .await?;
        let desired = resource::desired(map, body, &refs)?;
        let mut new = plan_create(map, desired)?;
        let password = new.password.take();
        if let (Some(pw), Some(mapping::PasswordMode::Attribute)) = (&password, map.password) {
            new.attrs.push((
                "userPassword".to_owned(),
                vec![secrecy::ExposeSecret::expose_secret(pw).to_owned()],
            ));
        }
        if let Some(t) = &map.version_token {
            new.attrs.push((t.clone(), vec![new_token()]));
        }
        let dn = new.dn.to_string();
        let attr_names: Vec<String> = new.attrs.iter().map(|(k, _)| k.clone()).collect();
        // The entry is rendered from the values written plus what only the
        // server knows (id, timestamps, version, memberOf, anything a server
        // plugin fills in), so the PostRead asks for the latter alone.
        let generated: Vec<String> = map
            .read_attributes()
            .into_iter()
            .filter(|a| !attr_names.iter().any(|w| w.eq_ignore_ascii_case(a)))
            .collect();
        let written = new.attrs;
        let what = format!("create {}", kind.name());
        let mut attempt = 0;
        let read_back = loop {
            attempt += 1;
            match self.dir.add(&dn, written.clone(), &generated).await {
                // The parent is missing, or (389-ds under contention) could not
                // be locked in time: retry while the base is there.
                Err(DirError::Result {
                    rc: rc::NO_SUCH_OBJECT,
                    text,
                }) => {
                    if !self.base_exists(map).await? {
                        return Err(Error::Internal(format!(
                            "{what}: the base {} does not exist in the directory",
                            map.base
                        )));
                    }
                    if attempt >= RACE_RETRIES {
                        return Err(Error::Unavailable(format!(
                            "{what}: the directory could not add under {} just now ({text})",
                            map.base
                        )));
                    }
                    contention_pause(attempt).await;
                }
                other => {
                    break other
                        .map_err(|e| dir_error(map, e, &what))?
                        .ok_or_else(|| {
                            Error::Internal("the directory returned no entry after add".to_owned())
                        })?;
                }
            }
        };
        let generated_values = read_back
            .attrs
            .into_iter()
            .filter(|(k, _)| !attr_names.iter().any(|w| w.eq_ignore_ascii_case(k)));
        let written = written
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("userPassword"));
        let mut entry = Entry::new(read_back.dn, written.into_iter().chain(generated_values));
        if let (Some(pw), Some(mapping::PasswordMode::Modify)) = (&password, map.password) {
            if let Err(e) = self.dir.set_password(&dn, pw).await {
                // Leave nothing half-written: the entry goes again.
                if let Err(undo) = self.dir.delete(&dn, None).await {
                    tracing::error!(dn = %dn, error = %undo, "could not remove the entry after its password failed");
                }
                return Err(dir_error(map, e, "set password"));
            }
            if let Some(e) = self.reread(map, &dn).await? {
                entry = e;
            }
        }
        self.audit(ctx, "create", kind, &dn, &attr_names);
        self.metrics.provisioned(kind, "created");
        self.render_one(map, &entry, &Projection::default(), ctx, refs)
            .await
    }

    /// Whether the map's base entry exists.
    async fn base_exists(&self, map: &AttrMap) -> Result<bool, Error> {
        self.exists(map, &map.base.to_string()).await
    }

    /// Whether an entry exists at `dn`.
    async fn exists(&self, map: &AttrMap, dn: &str) -> Result<bool, Error> {
        match self
            .hits(map, dn, Filter::everything(), "reading the entry")
            .await
        {
            Err(Error::NotFound(_)) => Ok(false),
            found => found,
        }
    }

    /// Whether the entry at `dn` matches `filter`: a base search that
    /// returns no attributes.
    async fn hits(
        &self,
        map: &AttrMap,
        dn: &str,
        filter: Filter,
        what: &str,
    ) -> Result<bool, Error> {
        let s = Search {
            base: dn.to_owned(),
            scope: Scope::Base,
            filter,
            attrs: vec!["1.1".to_owned()],
        };
        let found = self
            .dir
            .search(s)
            .await
            .map_err(|e| dir_error(map, e, what))?;
        Ok(!found.is_empty())
    }

    /// Removes the empty-group placeholder from `dn`; gone already, or the
    /// last value again after another removal, is no error.
    async fn remove_placeholder(
        &self,
        map: &AttrMap,
        dn: &str,
        attr: String,
        ph: String,
    ) -> Result<(), Error> {
        match self
            .dir
            .modify(dn, vec![Mod::Delete(attr, vec![ph])], &[], None)
            .await
        {
            Ok(_)
            | Err(DirError::Result {
                rc: rc::NO_SUCH_ATTRIBUTE | rc::OBJECT_CLASS_VIOLATION,
                ..
            }) => Ok(()),
            Err(e) => Err(dir_error(map, e, "removing the empty-group placeholder")),
        }
    }

    async fn reread(&self, map: &AttrMap, dn: &str) -> Result<Option<Entry>, Error> {
        let s = Search {
            base: dn.to_owned(),
            scope: Scope::Base,
            filter: Filter::everything(),
            attrs: map.read_attributes(),
        };
        Ok(self
            .dir
            .search(s)
            .await
            .map_err(|e| dir_error(map, e, "read"))?
            .into_iter()
            .next())
    }

    fn precondition(
        &self,
        map: &AttrMap,
        entry: &Entry,
        if_match: Option<&str>,
    ) -> Result<Option<Precondition>, Error> {
        let Some(tag) = if_match else { return Ok(None) };
        if tag.trim() == "*" {
            return Ok(None);
        }
        let want = parse_etag(tag);
        let current = resource::version(map, entry).map(|v| parse_etag(&v));
        if !self.dir.capabilities().assertion {
            // Without the Assertion control the version read just before the
            // write is compared; the write itself then carries no guard.
            return if current.as_deref() == Some(want.as_str()) {
                Ok(None)
            } else {
                Err(Error::PreconditionFailed(
                    "the resource changed since the version given in If-Match".to_owned(),
                ))
            };
        }
        if current.as_deref() != Some(want.as_str()) {
            return Err(Error::PreconditionFailed(
                "the resource changed since the version given in If-Match".to_owned(),
            ));
        }
        Ok(Some(Precondition {
            attribute: map.version_attribute.clone(),
            value: want,
        }))
    }

    /// Executes a plan: one modify, then the rename (so a crash in between
    /// leaves a state the client's retry completes), then the password.
    async fn execute(
        &self,
        map: &AttrMap,
        entry: &Entry,
        plan: Plan,
        how: Write<'_>,
    ) -> Result<Option<Entry>, Error> {
        let Write {
            pre,
            if_match,
            read_back,
            what,
            guard,
        } = how;
        // The entry after the write is needed to answer with it, or to see a
        // placeholder beside real members; otherwise no PostRead is asked for
        // (on a large group it would carry every member value back).
        let placeholder_involved = map
            .members
            .as_ref()
            .and_then(|m| m.placeholder.as_ref())
            .is_some_and(|ph| {
                let ph = ph.to_string().to_ascii_lowercase();
                let in_mods = plan.mods.iter().any(|m| match m {
                    Mod::Add(_, v) | Mod::Delete(_, v) | Mod::Replace(_, v) => {
                        v.iter().any(|x| x.to_ascii_lowercase() == ph)
                    }
                });
                let in_entry = map.members.as_ref().is_some_and(|m| {
                    entry
                        .values(&m.attribute)
                        .iter()
                        .any(|x| x.to_ascii_lowercase() == ph)
                });
                in_mods || in_entry
            });
        let read_back = read_back || placeholder_involved;
        // Guarded: the modify asserts the version this plan was made from, so
        // when it succeeds nothing else changed the entry in between, the
        // entry after it is the one read plus these changes, and only what
        // the server itself changes needs reading back. A rename or a
        // password set by extended operation reads the entry anyway.
        let may_replan = guard;
        let version = entry.values(&map.version_attribute);
        let guard = guard
            && read_back
            && plan.rename.is_none()
            && !(plan.password.is_some() && map.password == Some(mapping::PasswordMode::Modify))
            && self.dir.capabilities().assertion
            && self.dir.capabilities().post_read
            && version.len() == 1;
        let read = match (read_back, guard) {
            (false, _) => Vec::new(),
            (true, true) => map.generated_attributes(),
            (true, false) => map.read_attributes(),
        };
        let mut dn = entry.dn.clone();
        let mut latest: Option<Entry> = None;
        let mut pre = pre;
        if guard && pre.is_none() {
            pre = Some(Precondition {
                attribute: map.version_attribute.clone(),
                value: version[0].clone(),
            });
        }
        let mut mods = ldap::replace_unmatchable(
            entry,
            plan.mods.clone(),
            &self.dir.capabilities().unmatchable_attributes,
        );
        if let (Some(pw), Some(mapping::PasswordMode::Attribute)) = (&plan.password, map.password) {
            mods.push(Mod::Replace(
                "userPassword".to_owned(),
                vec![secrecy::ExposeSecret::expose_secret(pw).to_owned()],
            ));
        }
        // Every write renews the version token. Under If-Match the old value
        // is deleted in the same modify (compare-and-swap): the modify fails as
        // a whole when another write renewed the token since this request read
        // it. Without If-Match it is simply replaced, so unconditional writes
        // (membership changes from several daemons) still commute.
        let current_token = map.version_token.as_deref().and_then(|t| entry.first(t));
        let cas = match (&map.version_token, current_token) {
            (Some(t), Some(current)) if if_match => {
                mods.push(Mod::Delete(t.clone(), vec![current.to_owned()]));
                mods.push(Mod::Add(t.clone(), vec![new_token()]));
                true
            }
            (Some(t), Some(_)) => {
                mods.push(Mod::Replace(t.clone(), vec![new_token()]));
                false
            }
            _ => false,
        };
        let nothing_written = mods.is_empty();
        if !mods.is_empty() {
            let want_read: &[String] = if plan.rename.is_some() { &[] } else { &read };
            let known: Vec<Mod> = if guard {
                mods.iter()
                    .filter(|m| !m.attr().eq_ignore_ascii_case("userPassword"))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            latest = match self.dir.modify(&dn, mods, want_read, pre.as_ref()).await {
                Ok(Some(fresh)) if guard => {
                    let mut after = entry.clone();
                    after.apply(&known);
                    after.refresh(&read, fresh);
                    Some(after)
                }
                Ok(e) => e,
                // Changed since it was read: plan again from the entry as it is.
                Err(DirError::Result {
                    rc: rc::ASSERTION_FAILED,
                    ..
                }) if guard && !if_match => return Ok(None),
                // Renamed since it was found by id, nothing written yet: find
                // it again and plan again.
                Err(DirError::Result {
                    rc: rc::NO_SUCH_OBJECT,
                    ..
                }) if may_replan => return Ok(None),
                Err(DirError::Result {
                    rc: rc::NO_SUCH_OBJECT,
                    text,
                }) if self.exists(map, &dn).await? => {
                    return Err(busy(what, &dn, &text));
                }
                Err(DirError::Result {
                    rc: rc::NO_SUCH_ATTRIBUTE,
                    ..
                }) if cas && if_match => {
                    return Err(Error::PreconditionFailed(format!(
                        "{what}: the resource changed since the version given in If-Match"
                    )));
                }
                Err(e) => return Err(dir_error(map, e, what)),
            };
            pre = None;
        }
        if let Some(new_value) = &plan.rename {
            let rdn = format!("{}={}", map.rdn, ldap::escape_dn_value(new_value));
            let mut attempt = 0;
            latest = loop {
                attempt += 1;
                match self.dir.rename(&dn, &rdn, &read, pre.as_ref()).await {
                    Ok(e) => break e,
                    Err(DirError::Result {
                        rc: rc::NO_SUCH_OBJECT,
                        ..
                    }) if nothing_written && may_replan => return Ok(None),
                    // The entry is still there: the server could not take the
                    // rename just now (see `busy`); the modify
                    // before it, if any, has landed, so only the rename is
                    // tried again.
                    Err(DirError::Result {
                        rc: rc::NO_SUCH_OBJECT,
                        text,
                    }) if self.exists(map, &dn).await? => {
                        if attempt >= RACE_RETRIES {
                            return Err(busy(what, &dn, &text));
                        }
                        contention_pause(attempt).await;
                    }
                    Err(e) => return Err(dir_error(map, e, what)),
                }
            };
            if let Ok(old) = Dn::parse(&entry.dn) {
                dn = Dn::child(&old.parent(), &map.rdn, new_value).to_string();
            }
        }
        if let Some(pw) = &plan.password {
            if map.password == Some(mapping::PasswordMode::Modify) {
                self.dir
                    .set_password(&dn, pw)
                    .await
                    .map_err(|e| dir_error(map, e, "set password"))?;
                latest = None;
            }
        }
        let after = match latest {
            Some(e) => e,
            None if !read_back => {
                self.check_placeholder_after_add(map, &dn, &plan.mods)
                    .await?;
                return Ok(Some(entry.clone()));
            }
            None => self
                .reread(map, &dn)
                .await?
                .unwrap_or_else(|| entry.clone()),
        };
        self.drop_stale_placeholder(map, after).await.map(Some)
    }

    /// Without reading the group back: after adding members, one cheap base
    /// search (no values returned) tells whether a concurrent removal left the
    /// placeholder in; if so it goes.
    async fn check_placeholder_after_add(
        &self,
        map: &AttrMap,
        dn: &str,
        mods: &[Mod],
    ) -> Result<(), Error> {
        let Some((attr, ph)) = placeholder_touched(map, mods, false) else {
            return Ok(());
        };
        let probe = Filter::Equal(attr.clone(), ph.clone());
        if !self
            .hits(map, dn, probe, "checking the placeholder")
            .await?
        {
            return Ok(());
        }
        self.remove_placeholder(map, dn, attr, ph).await
    }

    /// After removing members without reading the group: a server that lets
    /// a group lose its last member (389-ds, whose groupOfNames does not
    /// require one) leaves it empty; the placeholder then goes in, as a full
    /// plan would have put it. One cheap search, only after removals.
    async fn placeholder_if_empty(
        &self,
        map: &AttrMap,
        dn: &str,
        mods: &[Mod],
    ) -> Result<(), Error> {
        let Some((attr, ph)) = placeholder_touched(map, mods, true) else {
            return Ok(());
        };
        let probe = Filter::Present(attr.clone());
        if self.hits(map, dn, probe, "checking for members").await? {
            return Ok(());
        }
        match self
            .dir
            .modify(
                dn,
                vec![Mod::Add(attr.clone(), vec![ph.clone()])],
                &[],
                None,
            )
            .await
        {
            Ok(_) => {}
            // The placeholder is in already.
            Err(DirError::Result {
                rc: rc::ATTRIBUTE_OR_VALUE_EXISTS,
                ..
            }) => return Ok(()),
            Err(e) => return Err(dir_error(map, e, "adding the empty-group placeholder")),
        }
        // A member added between the probe and the placeholder saw no
        // placeholder to remove: whoever adds the placeholder checks after
        // it, as whoever adds a member does. The group was empty a moment
        // ago, so its member list is short.
        let now = Search {
            base: dn.to_owned(),
            scope: Scope::Base,
            filter: Filter::everything(),
            attrs: vec![attr.clone()],
        };
        let values: Vec<String> = self
            .dir
            .search(now)
            .await
            .map_err(|e| dir_error(map, e, "checking for members"))?
            .into_iter()
            .next()
            .map(|e| e.values(&attr).to_vec())
            .unwrap_or_default();
        let placeholder = Dn::parse(&ph).ok();
        let is_ph = |v: &String| {
            placeholder
                .as_ref()
                .is_some_and(|p| Dn::parse(v).is_ok_and(|d| d.same_as(p)))
        };
        if values.iter().all(is_ph) {
            return Ok(());
        }
        self.remove_placeholder(map, dn, attr, ph).await
    }

    /// A concurrent writer may have added a member while this request put the
    /// placeholder in (or the other way round): whoever sees both afterwards
    /// removes the placeholder, so it never stands beside real members.
    async fn drop_stale_placeholder(&self, map: &AttrMap, after: Entry) -> Result<Entry, Error> {
        let Some((attr, ph)) = map
            .members
            .as_ref()
            .and_then(|m| m.placeholder.as_ref().map(|p| (m.attribute.clone(), p)))
        else {
            return Ok(after);
        };
        let values = after.values(&attr);
        let stale: Vec<String> = values
            .iter()
            .filter(|v| Dn::parse(v).is_ok_and(|d| d.same_as(ph)))
            .cloned()
            .collect();
        if stale.is_empty() || stale.len() == values.len() {
            return Ok(after);
        }
        match self
            .dir
            .modify(
                &after.dn,
                vec![Mod::Delete(attr, stale)],
                &map.read_attributes(),
                None,
            )
            .await
        {
            Ok(Some(e)) => Ok(e),
            Ok(None) => Ok(self.reread(map, &after.dn).await?.unwrap_or(after)),
            // Someone else removed it first.
            Err(DirError::Result {
                rc: rc::NO_SUCH_ATTRIBUTE,
                ..
            }) => Ok(self.reread(map, &after.dn).await?.unwrap_or(after)),
            Err(e) => Err(dir_error(map, e, "removing the empty-group placeholder")),
        }
    }

    /// `PATCH /{Users|Groups}/{id}`; `None` means "answer 204".
    pub async fn patch(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        projection: Option<&Projection>,
        ctx: &Ctx,
    ) -> Result<Option<Versioned>, Error> {
        let map = self.map(kind)?;
        let ops = patch::parse(body)?;
        let answer_204 =
            kind == ResourceKind::Group && projection.is_none_or(Projection::is_default);
        if answer_204 && if_match.is_none() {
            if let Some(delta) = mapping::patch::member_delta(map, &ops) {
                if self.patch_members(map, id, &delta, ctx).await? {
                    return Ok(None);
                }
            }
        }
        let ids = mapping::patch::reference_ids(map, &ops);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (entry, refs) = tokio::join!(
                self.find(map, id, map.read_attributes()),
                self.resolve_ids(&ids)
            );
            let (entry, refs) = (entry?, refs?);
            let plan = plan_patch(map, &entry, &ops, &refs)?;
            let pre = self.precondition(map, &entry, if_match)?;
            let changed = plan.changed_attributes();
            let noop = plan.is_noop();
            let disabled = kind == ResourceKind::User && map.disable.as_ref().is_some_and(|d| plan.mods.iter().any(|m| matches!(m, Mod::Add(a, v) if a.eq_ignore_ascii_case(&d.attribute) && v.contains(&d.value))));
            let result = if noop {
                Ok(entry.clone())
            } else {
                let what = format!("update {}", kind.name());
                let how = Write {
                    pre,
                    if_match: names_a_version(if_match),
                    read_back: !answer_204,
                    what: &what,
                    guard: attempt < RACE_RETRIES,
                };
                match self.execute(map, &entry, plan, how).await {
                    Ok(Some(after)) => Ok(after),
                    Ok(None) => {
                        moved_pause(attempt).await;
                        continue;
                    }
                    Err(e) => Err(e),
                }
            };
            match result {
                Err(Error::BadRequest { .. })
                    if attempt < RACE_RETRIES && self.lost_race(map, &entry).await =>
                {
                    continue;
                }
                Err(e) => return Err(e),
                Ok(after) => {
                    if !noop {
                        self.audit(ctx, "patch", kind, &after.dn, &changed);
                        self.metrics
                            .provisioned(kind, if disabled { "disabled" } else { "updated" });
                    }
                    // Groups answer 204 unless the client asked for attributes:
                    // rendering thousands of members nobody reads costs searches.
                    if answer_204 {
                        return Ok(None);
                    }
                    let p = projection.cloned().unwrap_or_default();
                    return self.render_one(map, &after, &p, ctx, refs).await.map(Some);
                }
            }
        }
    }

    /// A membership-only group PATCH answered 204 (Entra's usual one): one
    /// modify written without reading the group's members, so its cost does
    /// not grow with the group. Returns false when the directory refuses a
    /// value (already a member, not a member, the last member of a group that
    /// must keep one) or the group moved: the caller then plans against the
    /// whole group, which makes those cases no-ops or swaps in the placeholder.
    async fn patch_members(
        &self,
        map: &AttrMap,
        id: &str,
        delta: &mapping::patch::MemberDelta,
        ctx: &Ctx,
    ) -> Result<bool, Error> {
        let Some(m) = map.members.as_ref() else {
            return Ok(false);
        };
        let mut attrs = vec![
            map.id_attribute.clone(),
            map.version_attribute.clone(),
            map.rdn.clone(),
        ];
        attrs.extend(map.version_token.clone());
        let ids = delta.ids();
        let (entry, refs) = tokio::join!(self.find(map, id, attrs), self.resolve_ids(&ids));
        let (entry, refs) = (entry?, refs?);
        let mut mods = mapping::patch::member_mods(map, delta, &refs)?;
        if mods.is_empty() {
            // Only ids to remove that name nothing: no member to remove.
            return Ok(true);
        }
        if let Some(t) = map
            .version_token
            .as_ref()
            .filter(|t| entry.first(t).is_some())
        {
            mods.push(Mod::Replace(t.clone(), vec![new_token()]));
        }
        match self.dir.modify(&entry.dn, mods.clone(), &[], None).await {
            Ok(_) => {}
            Err(DirError::Result {
                rc:
                    rc::ATTRIBUTE_OR_VALUE_EXISTS
                    | rc::NO_SUCH_ATTRIBUTE
                    | rc::OBJECT_CLASS_VIOLATION
                    | rc::NO_SUCH_OBJECT,
                ..
            }) => return Ok(false),
            Err(e) => return Err(dir_error(map, e, "update Group")),
        }
        self.check_placeholder_after_add(map, &entry.dn, &mods)
            .await?;
        self.placeholder_if_empty(map, &entry.dn, &mods).await?;
        self.audit(
            ctx,
            "patch",
            map.kind,
            &entry.dn,
            std::slice::from_ref(&m.attribute),
        );
        self.metrics.provisioned(map.kind, "updated");
        Ok(true)
    }

    /// After a refused write, whether the entry changed meanwhile (a
    /// concurrent writer added or removed the same value): then retry.
    async fn lost_race(&self, map: &AttrMap, before: &Entry) -> bool {
        let Ok(Some(now)) = self.reread(map, &before.dn).await else {
            return false;
        };
        resource::version(map, &now) != resource::version(map, before)
    }

    /// `PUT /{Users|Groups}/{id}`.
    pub async fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        ctx: &Ctx,
    ) -> Result<Versioned, Error> {
        let map = self.map(kind)?;
        let ids = resource::reference_ids(map, body);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (entry, refs) = tokio::join!(
                self.find(map, id, map.read_attributes()),
                self.resolve_ids(&ids)
            );
            let (entry, refs) = (entry?, refs?);
            let desired = resource::desired(map, body, &refs)?;
            let plan = plan_replace(map, &entry, desired)?;
            let pre = self.precondition(map, &entry, if_match)?;
            let changed = plan.changed_attributes();
            let after = if plan.is_noop() {
                entry.clone()
            } else {
                let written = self
                    .execute(
                        map,
                        &entry,
                        plan,
                        Write {
                            pre,
                            if_match: names_a_version(if_match),
                            read_back: true,
                            what: &format!("replace {}", kind.name()),
                            guard: attempt < RACE_RETRIES,
                        },
                    )
                    .await;
                match written {
                    Ok(None) => {
                        moved_pause(attempt).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                    Ok(Some(after)) => {
                        self.audit(ctx, "replace", kind, &after.dn, &changed);
                        self.metrics.provisioned(kind, "updated");
                        after
                    }
                }
            };
            return self
                .render_one(map, &after, &Projection::default(), ctx, refs)
                .await;
        }
    }

    /// `DELETE /{Users|Groups}/{id}`: memberships first (when the daemon owns
    /// referential integrity), then the entry, so an interrupted delete is
    /// completed by the client's retry and never leaves a dangling member.
    pub async fn delete(
        &self,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
        ctx: &Ctx,
    ) -> Result<(), Error> {
        let map = self.map(kind)?;
        let mut attrs = vec![map.id_attribute.clone(), map.version_attribute.clone()];
        attrs.push(map.rdn.clone());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let entry = self.find(map, id, attrs.clone()).await?;
            let pre = self.precondition(map, &entry, if_match)?;
            self.remove_memberships(&entry).await?;
            let what = format!("delete {}", kind.name());
            match self.dir.delete(&entry.dn, pre.as_ref()).await {
                Ok(()) => {}
                // Moved since it was found, or not lockable just now: find it again.
                Err(DirError::Result {
                    rc: rc::NO_SUCH_OBJECT,
                    ..
                }) if attempt < RACE_RETRIES => {
                    moved_pause(attempt).await;
                    continue;
                }
                Err(DirError::Result {
                    rc: rc::NO_SUCH_OBJECT,
                    text,
                }) if self.exists(map, &entry.dn).await? => {
                    return Err(busy(&what, &entry.dn, &text));
                }
                Err(e) => return Err(dir_error(map, e, &what)),
            }
            self.audit(ctx, "delete", kind, &entry.dn, &[]);
            self.metrics.provisioned(kind, "deleted");
            return Ok(());
        }
    }

    async fn remove_memberships(&self, entry: &Entry) -> Result<(), Error> {
        let Some(g) = self.config.groups.as_ref() else {
            return Ok(());
        };
        let Some(m) = g.members.as_ref().filter(|m| m.daemon_cleans_up) else {
            return Ok(());
        };
        let value = match m.value {
            mapping::MemberValue::Dn => entry.dn.clone(),
            mapping::MemberValue::RdnValue => match Dn::parse(&entry.dn)
                .ok()
                .and_then(|d| d.rdn_value(&self.config.users.rdn).map(str::to_owned))
            {
                Some(v) => v,
                None => return Ok(()),
            },
        };
        let s = Search {
            base: g.base.to_string(),
            scope: Scope::Subtree,
            filter: Filter::Equal(m.attribute.clone(), value.clone()),
            attrs: vec!["1.1".to_owned()],
        };
        let groups = self
            .dir
            .search(s)
            .await
            .map_err(|e| dir_error(g, e, "finding memberships"))?;
        for group in groups {
            let del = vec![Mod::Delete(m.attribute.clone(), vec![value.clone()])];
            match self.dir.modify(&group.dn, del, &[], None).await {
                Ok(_)
                | Err(DirError::Result {
                    rc: rc::NO_SUCH_ATTRIBUTE,
                    ..
                }) => {}
                // The last member: groupOfNames needs one, so the placeholder takes its place.
                Err(DirError::Result {
                    rc: rc::OBJECT_CLASS_VIOLATION,
                    ..
                }) if m.placeholder.is_some() => {
                    let ph = m
                        .placeholder
                        .as_ref()
                        .map(Dn::to_string)
                        .unwrap_or_default();
                    let swap = vec![
                        Mod::Add(m.attribute.clone(), vec![ph]),
                        Mod::Delete(m.attribute.clone(), vec![value.clone()]),
                    ];
                    self.dir
                        .modify(&group.dn, swap, &[], None)
                        .await
                        .map_err(|e| dir_error(g, e, "removing membership"))?;
                }
                Err(e) => return Err(dir_error(g, e, "removing membership")),
            }
        }
        Ok(())
    }

    /// Discovery: `/Schemas` documents built from the live config.
    pub fn schemas(&self, ctx: &Ctx) -> Vec<Value> {
        crate::mapping::discovery::schemas(self.maps(), &self.config.extensions, &ctx.base_url)
    }

    /// Discovery: `/ServiceProviderConfig`.
    pub fn service_provider_config(&self, ctx: &Ctx) -> Value {
        let caps = self.dir.capabilities();
        schema::service_provider_config(
            &schema::Capabilities {
                patch: true,
                bulk: false,
                filter_max_results: u32::try_from(self.config.server.max_page_size)
                    .unwrap_or(u32::MAX),
                change_password: self.config.users.password.is_some(),
                sort: caps.server_side_sort,
                etag: true,
                documentation_uri: None,
            },
            &format!("{}/ServiceProviderConfig", ctx.base_url),
        )
    }

    /// Discovery: `/ResourceTypes`.
    pub fn resource_types(&self, ctx: &Ctx) -> Vec<Value> {
        crate::mapping::discovery::resource_types(
            self.maps(),
            &self.config.extensions,
            &ctx.base_url,
        )
    }
}
