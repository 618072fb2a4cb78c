//! Ids ↔ DNs: finding the entry behind an id, and resolving the users and
//! groups a request or an entry refers to. Every look-up is batched (one OR
//! filter per [`BATCH`] names, searches sent concurrently) and every hit
//! outside the configured bases is dropped.

use super::errors::{not_found, search_error};
use super::{BATCH, Service};
use crate::directory::{Directory, Scope, Search};
use crate::error::Error;
use crate::ldap::{Dn, Entry, Filter};
use crate::mapping::{self, AttrMap, RefEntry, Refs};
use crate::scim::ResourceKind;

impl<D: Directory> Service<D> {
    /// The entry behind an id, read with `attrs`.
    pub(super) async fn find(
        &self,
        map: &AttrMap,
        id: &str,
        attrs: Vec<String>,
    ) -> Result<Entry, Error> {
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
            .map_err(|e| search_error(map, e, "read"))?;
        found
            .into_iter()
            .find(|e| e.dn.is_within(&map.base))
            .ok_or_else(|| not_found(map.kind, id))
    }

    /// The LDAP attribute shown as a reference's `display`.
    fn display_attr(map: &AttrMap) -> String {
        map.fields
            .iter()
            .find(|f| f.attr == "displayName" && f.is_core(map.kind))
            .map(|f| f.ldap.clone())
            .unwrap_or_else(|| map.rdn.clone())
    }

    /// The attributes a reference is built from.
    fn ref_attrs_of(map: &AttrMap) -> Vec<String> {
        vec![
            map.id_attribute.clone(),
            map.rdn.clone(),
            Self::display_attr(map),
        ]
    }

    pub(super) fn ref_entry(map: &AttrMap, e: &Entry) -> Option<RefEntry> {
        Some(RefEntry {
            id: e.first(&map.id_attribute)?.to_owned(),
            kind: map.kind,
            rdn_value: e
                .dn
                .rdn_value(&map.rdn)
                .map(str::to_owned)
                .or_else(|| e.first(&map.rdn).map(str::to_owned))?,
            dn: e.dn.to_string(),
            display: e.first(&Self::display_attr(map)).map(str::to_owned),
        })
    }

    fn ref_attrs(&self) -> Vec<String> {
        let maps = self.maps();
        let mut v = Self::ref_attrs_of(maps.users);
        if let Some(g) = maps.groups {
            v.extend(Self::ref_attrs_of(g));
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
        if let Some(g) = maps.groups {
            id_attrs.push(g.id_attribute.clone());
        }
        let id_attrs = mapping::dedup_ci(id_attrs);
        let bases = self.id_search_bases();
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
            for base in &bases {
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
            for e in r.map_err(|e| search_error(maps.users, e, "resolving ids"))? {
                let Some(kind) = maps.kind_of(&e.dn) else {
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

    /// Where ids are searched: the deepest DN both bases share, or each base
    /// when they share none.
    fn id_search_bases(&self) -> Vec<Dn> {
        let maps = self.maps();
        let mut bases = vec![maps.users.base.clone()];
        if let Some(g) = maps.groups {
            bases.push(g.base.clone());
        }
        let common = bases
            .iter()
            .skip(1)
            .fold(bases[0].clone(), |acc, b| Dn::common_ancestor(&acc, b));
        if common.is_empty() {
            bases
        } else {
            vec![common]
        }
    }

    /// Resolves DNs (and memberUid values) to ids, batching one OR filter of
    /// RDNs per base.
    pub(super) async fn resolve_dns(
        &self,
        dns: &[String],
        rdn_values: &[String],
        refs: &mut Refs,
    ) -> Result<(), Error> {
        let per_kind = self.unresolved(dns, rdn_values, refs);
        let mut searches = Vec::new();
        for (kind, mut filters) in per_kind {
            let Some(m) = self.maps().get(kind) else {
                continue;
            };
            filters.sort_by_key(|f| f.to_string());
            filters.dedup();
            for chunk in filters.chunks(BATCH) {
                searches.push((
                    m,
                    Search {
                        base: m.base.to_string(),
                        scope: Scope::Subtree,
                        filter: Filter::or(chunk.to_vec()),
                        attrs: Self::ref_attrs_of(m),
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
            for e in r.map_err(|e| search_error(m, e, "resolving members"))? {
                if e.dn.is_within(&m.base) {
                    if let Some(r) = Self::ref_entry(m, &e) {
                        refs.insert(r);
                    }
                }
            }
        }
        Ok(())
    }

    /// Per resource type, one RDN filter for each DN (or memberUid value)
    /// `refs` does not know yet. Member values are stored strings: one that
    /// is not a DN, or lies outside the bases, names nothing to resolve.
    fn unresolved(
        &self,
        dns: &[String],
        rdn_values: &[String],
        refs: &Refs,
    ) -> Vec<(ResourceKind, Vec<Filter>)> {
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
        per_kind
    }

    /// Group DNs a user is in, by searching the membership attribute when the
    /// server keeps no memberOf.
    pub(super) async fn groups_of(
        &self,
        user: &Entry,
        refs: &mut Refs,
    ) -> Result<Option<Vec<String>>, Error> {
        let maps = self.maps();
        let (Some(g), None) = (maps.groups, &maps.users.member_of) else {
            return Ok(None);
        };
        let Some(m) = &g.members else { return Ok(None) };
        let Some(value) = Self::member_value(m, &maps.users.rdn, user) else {
            return Ok(Some(Vec::new()));
        };
        let s = Search {
            base: g.base.to_string(),
            scope: Scope::Subtree,
            filter: Filter::Equal(m.attribute.clone(), value),
            attrs: Self::ref_attrs_of(g),
        };
        let found = self
            .dir
            .search(s)
            .await
            .map_err(|e| search_error(g, e, "reading groups"))?;
        let mut dns = Vec::new();
        for e in found {
            if let Some(r) = Self::ref_entry(g, &e) {
                dns.push(e.dn.to_string());
                refs.insert(r);
            }
        }
        Ok(Some(dns))
    }

    /// The value a group's membership attribute holds for `member`: its DN,
    /// or its RDN value (memberUid); None when its RDN is not `user_rdn`.
    pub(super) fn member_value(
        m: &mapping::Members,
        user_rdn: &str,
        member: &Entry,
    ) -> Option<String> {
        match m.value {
            mapping::MemberValue::Dn => Some(member.dn.to_string()),
            mapping::MemberValue::RdnValue => member.dn.rdn_value(user_rdn).map(str::to_owned),
        }
    }
}
