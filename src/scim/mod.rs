//! SCIM 2.0 vocabulary (RFC 7643, RFC 7644), pure: nothing here knows LDAP.

pub mod core;
pub mod filter;
pub mod json;
pub mod patch;
pub mod path;
#[cfg(test)]
mod proptests;
pub mod query;
pub mod schema;

use serde::Serialize;

/// The schema URN of a ListResponse.
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A ListResponse (RFC 7644 §3.4.2) holding `resources`, which are moved in,
/// not copied: rendered resources or discovery documents.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    schemas: [&'static str; 1],
    total_results: usize,
    start_index: usize,
    items_per_page: usize,
    #[serde(rename = "Resources")]
    resources: Vec<T>,
}

/// The ListResponse for one page of `total` results starting at `start_index`.
pub fn list_response<T>(total: usize, start_index: usize, resources: Vec<T>) -> ListResponse<T> {
    ListResponse {
        schemas: [LIST_RESPONSE],
        total_results: total,
        start_index,
        items_per_page: resources.len(),
        resources,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn list_responses_hold_their_resources() {
        let r = list_response(7, 3, vec![serde_json::json!({"id": "a"})]);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 7,
                "startIndex": 3,
                "itemsPerPage": 1,
                "Resources": [{"id": "a"}],
            })
        );
    }
}

/// The two SCIM resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }
    pub fn core_schema(self) -> &'static str {
        match self {
            ResourceKind::User => schema::CORE_USER,
            ResourceKind::Group => schema::CORE_GROUP,
        }
    }
    pub fn parse(s: &str) -> Option<ResourceKind> {
        if s.eq_ignore_ascii_case("user") {
            Some(ResourceKind::User)
        } else if s.eq_ignore_ascii_case("group") {
            Some(ResourceKind::Group)
        } else {
            None
        }
    }
}
