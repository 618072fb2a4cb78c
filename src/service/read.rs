//! `GET` of one resource, and turning entries into resources: every
//! reference the entries hold (members, groups, manager) resolves in batched
//! searches before any resource is built.

use super::{Ctx, Service, Versioned};
use crate::directory::Directory;
use crate::error::Error;
use crate::ldap::Entry;
use crate::mapping::resource::{self, ReadContext};
use crate::mapping::{AttrMap, Refs};
use crate::scim::ResourceKind;
use crate::scim::json::Rendered;
use crate::scim::query::Projection;

impl<D: Directory> Service<D> {
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

    /// Turns entries into resources, resolving every reference they hold in
    /// batched searches.
    pub(super) async fn render(
        &self,
        map: &AttrMap,
        entries: &[Entry],
        projection: &Projection,
        ctx: &Ctx,
        mut refs: Refs,
    ) -> Result<Vec<Rendered>, Error> {
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
            out.push(resource::to_resource(map, e, &rc, projection)?);
        }
        Ok(out)
    }

    /// One entry as a resource with its ETag.
    pub(super) async fn render_one(
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
            .ok_or_else(|| Error::Internal(format!("{} rendered as nothing", e.dn)))?;
        Ok(Versioned {
            resource,
            etag: resource::version(map, e),
            location: None,
        })
    }
}
