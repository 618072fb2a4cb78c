//! Discovery (RFC 7644 §4): `/Schemas`, `/ResourceTypes` and
//! `/ServiceProviderConfig`, built from the live config and the directory's
//! capabilities (sorting is offered only when the server sorts).

use serde_json::Value;

use super::{Ctx, Service};
use crate::directory::Directory;
use crate::scim::schema;

impl<D: Directory> Service<D> {
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
