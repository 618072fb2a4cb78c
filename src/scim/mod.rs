//! SCIM 2.0 vocabulary (RFC 7643, RFC 7644), pure: nothing here knows LDAP.

pub mod core;
pub mod filter;
pub mod patch;
pub mod path;
#[cfg(test)]
mod proptests;
pub mod query;
pub mod schema;

use serde_json::{Map, Value};

/// A ListResponse (RFC 7644 §3.4.2) holding `resources`, which are moved in,
/// not copied.
pub fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    let mut m = Map::new();
    m.insert(
        "schemas".to_owned(),
        Value::Array(vec![Value::String(
            "urn:ietf:params:scim:api:messages:2.0:ListResponse".to_owned(),
        )]),
    );
    m.insert("totalResults".to_owned(), Value::from(total));
    m.insert("startIndex".to_owned(), Value::from(start_index));
    m.insert("itemsPerPage".to_owned(), Value::from(resources.len()));
    m.insert("Resources".to_owned(), Value::Array(resources));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_responses_hold_their_resources() {
        let r = list_response(7, 3, vec![serde_json::json!({"id": "a"})]);
        assert_eq!(
            r,
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
