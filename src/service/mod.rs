//! The only code that sequences directory calls: get, list, create, replace,
//! patch and delete of users and groups. Nothing outside this module reaches
//! the [`Directory`]; the HTTP handlers and `check-config` ask [`Service`].
//!
//! Each operation is written for the fewest round trips: the entry and the ids
//! a request refers to are looked up concurrently; all ids resolve in one
//! search; a write's result comes back in the write itself (PostRead); member
//! DNs resolve to ids in batched searches, never one per member. Searches stay
//! inside the configured bases, so nothing outside them is ever read or
//! written.
//!
//! One file per job, each an `impl Service` block:
//! - `read`: `GET` of one resource and rendering entries as resources;
//! - `query`: list and `.search` (filters, sorting, paging);
//! - `refs`: ids ↔ DNs of referenced users and groups, in batches;
//! - `create`, `update` (PATCH and PUT), `delete`: one file per verb;
//! - `write`: executing a plan (guard, compare-and-swap, read-back);
//! - `plan`: the pure decision of how a plan is written (unit-tested);
//! - `members`: the empty-group placeholder and membership clean-up;
//! - `retry`: the one loop for every write that may lose a race;
//! - `errors`: directory failures rendered for the client;
//! - `discovery`: `/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`.

mod allocate;
mod create;
mod delete;
mod discovery;
mod errors;
mod members;
mod plan;
mod query;
mod read;
mod refs;
mod retry;
mod update;
mod write;

use std::sync::Arc;

pub use errors::{dir_error, search_error};
pub use update::Patched;

use crate::config::Config;
use crate::directory::{Directory, Scope, Search};
use crate::error::Error;
use crate::ldap::{self, Entry, Filter};
use crate::mapping::{AttrMap, Maps};
use crate::scim::ResourceKind;
use crate::scim::json::Rendered;
use crate::telemetry::Metrics;

/// Most ids or names in one OR filter; larger sets are split into several
/// searches sent concurrently on the multiplexed connections.
const BATCH: usize = 500;

/// Who asks and where they reach us, for locations and the audit log.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `https://host/scim/v2`.
    pub base_url: String,
    /// The name of the token the request carried.
    pub actor: String,
}

/// A resource, its ETag and, for a new one, its URL (the `Location` header).
#[derive(Debug, Clone)]
pub struct Versioned {
    pub resource: Rendered,
    pub etag: Option<String>,
    pub location: Option<String>,
}

/// The service over a directory.
pub struct Service<D> {
    dir: D,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
}

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

impl<D: Directory> Service<D> {
    pub fn new(dir: D, config: Arc<Config>, metrics: Arc<Metrics>) -> Service<D> {
        Service {
            dir,
            config,
            metrics,
        }
    }

    /// True when a bound connection to the directory answers (`/readyz`,
    /// the `up` gauge).
    pub async fn ready(&self) -> bool {
        self.dir.ready().await
    }

    /// The configured bases that do not exist or that the bind DN cannot
    /// read, for `check-config`.
    pub async fn missing_bases(&self) -> Vec<String> {
        let mut missing = Vec::new();
        let maps = self.maps();
        for base in [Some(maps.users), maps.groups]
            .into_iter()
            .flatten()
            .map(|m| m.base.to_string())
        {
            let found = self
                .dir
                .search(Search {
                    base: base.clone(),
                    scope: Scope::Base,
                    filter: Filter::everything(),
                    attrs: ldap::no_attributes(),
                })
                .await;
            if !matches!(found, Ok(ref v) if !v.is_empty()) {
                missing.push(base);
            }
        }
        missing
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

    fn audit(&self, ctx: &Ctx, op: &str, kind: ResourceKind, dn: &ldap::Dn, attrs: &[String]) {
        self.audit_ignoring(ctx, op, kind, dn, attrs, &[]);
    }

    /// The audit line of a write that left out attributes no mapping stores
    /// (`unmapped = "ignore"`): their SCIM paths are listed as `ignored`.
    fn audit_ignoring(
        &self,
        ctx: &Ctx,
        op: &str,
        kind: ResourceKind,
        dn: &ldap::Dn,
        attrs: &[String],
        ignored: &[String],
    ) {
        if ignored.is_empty() {
            tracing::info!(target: "audit", actor = %ctx.actor, operation = op, resource = kind.name(), dn = %dn, attributes = ?attrs, "directory changed");
        } else {
            tracing::info!(target: "audit", actor = %ctx.actor, operation = op, resource = kind.name(), dn = %dn, attributes = ?attrs, ignored = ?ignored, "directory changed");
        }
    }

    /// Counts the paths a write left out and warns about them, at most once
    /// per path every few minutes (a client sends the same ones every time).
    fn note_ignored(&self, kind: ResourceKind, ignored: &[String]) {
        if ignored.is_empty() {
            return;
        }
        for (path, times) in self
            .metrics
            .unmapped(kind, ignored, std::time::Instant::now())
        {
            tracing::warn!(
                resource = kind.name(),
                path = %path,
                times,
                "left out of writes: no mapping stores it (unmapped = \"ignore\"); map it or stop sending it"
            );
        }
    }

    /// The entry at `dn` with the map's attributes, if it is there.
    async fn reread(&self, map: &AttrMap, dn: &ldap::Dn) -> Result<Option<Entry>, Error> {
        let s = Search {
            base: dn.to_string(),
            scope: Scope::Base,
            filter: Filter::everything(),
            attrs: map.read_attributes(),
        };
        Ok(self
            .dir
            .search(s)
            .await
            .map_err(|e| search_error(map, e, "read"))?
            .into_iter()
            .next())
    }

    /// Whether the map's base entry exists.
    async fn base_exists(&self, map: &AttrMap) -> Result<bool, Error> {
        self.exists(map, &map.base).await
    }

    /// Whether an entry exists at `dn`.
    async fn exists(&self, map: &AttrMap, dn: &ldap::Dn) -> Result<bool, Error> {
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
        dn: &ldap::Dn,
        filter: Filter,
        what: &str,
    ) -> Result<bool, Error> {
        let s = Search {
            base: dn.to_string(),
            scope: Scope::Base,
            filter,
            attrs: ldap::no_attributes(),
        };
        let found = self
            .dir
            .search(s)
            .await
            .map_err(|e| search_error(map, e, what))?;
        Ok(!found.is_empty())
    }
}
