//! What the daemon writes and reads, taken from the configuration it runs with through
//! scim2ldap's own loader and compiled maps, so the direct side sends the same entries and
//! attribute lists without a hand copy of the mapping.

use std::collections::HashSet;

use scim2ldap::config::{Config, Environment};
use scim2ldap::mapping::resource::{attributes_for, desired};
use scim2ldap::mapping::{AttrMap, Members, Refs};
use scim2ldap::scim::query::Projection;
use serde_json::Value;

use crate::options::{Server, env};

/// The parts of the daemon's configuration the direct side copies.
pub struct Shape {
    pub users: AttrMap,
    pub groups: AttrMap,
    /// What a full user read asks for (the daemon's `read_attributes`).
    pub user_read: Vec<String>,
    /// A group read with its members, and one without (Entra's `excludedAttributes=members`).
    pub group_read: Vec<String>,
    pub group_read_no_members: Vec<String>,
}

/// The secrets the daemon got from `scripts/bench`, as the loader's overrides (the shipped
/// configurations name files that only exist on an installed host).
struct Overrides;

impl Environment for Overrides {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "SCIM2LDAP_TOKEN" => Some(env("BENCH_TOKEN")),
            "SCIM2LDAP_LDAP_BIND_PASSWORD" => Some(env("BENCH_BIND_PASSWORD")),
            _ => None,
        }
    }
}

impl Shape {
    /// Loads `BENCH_CONFIG` (set by `scripts/bench`), or the shipped configuration of `server`.
    pub fn load(server: Server) -> Shape {
        let path = std::env::var("BENCH_CONFIG").unwrap_or_else(|_| {
            format!(
                "{}/config/{}.toml",
                env!("CARGO_MANIFEST_DIR"),
                server.name()
            )
        });
        let config = Config::load(std::path::Path::new(&path), &Overrides)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let Config { users, groups, .. } = config;
        let groups = groups.unwrap_or_else(|| panic!("{path} maps no groups"));
        let no_members = Projection::parse(None, Some("members")).unwrap();
        Shape {
            user_read: users.read_attributes(),
            group_read: groups.read_attributes(),
            group_read_no_members: attributes_for(&groups, &no_members),
            users,
            groups,
        }
    }

    /// The entry the daemon adds for a user `body`: the mapped values plus the object classes.
    pub fn user_entry(&self, body: &Value) -> Vec<(String, HashSet<String>)> {
        added(&self.users, body)
    }

    /// The entry the daemon adds for an empty group `body`: the mapped values, the object
    /// classes, and the placeholder member an empty group needs.
    pub fn group_entry(&self, body: &Value) -> Vec<(String, HashSet<String>)> {
        let (member, placeholder) = self.member_attribute();
        let mut attrs = added(&self.groups, body);
        attrs.push((member, HashSet::from([placeholder])));
        attrs
    }

    /// The account-lock attribute and value written on active=false.
    pub fn disable(&self) -> (&str, &str) {
        let d = self
            .users
            .disable
            .first()
            .expect("the configuration disables users");
        (&d.attribute, &d.value)
    }

    /// The attribute holding group members, and the placeholder DN an empty group holds.
    pub fn member_attribute(&self) -> (String, String) {
        let m: &Members = self
            .groups
            .members
            .as_ref()
            .expect("the configuration maps group members");
        let placeholder = m
            .placeholder
            .as_ref()
            .expect("the configuration names a placeholder member")
            .to_string();
        (m.attribute.clone(), placeholder)
    }
}

/// The attributes of an add for `body` under `map`: its object classes and the mapped values
/// (the daemon's own `desired`).
fn added(map: &AttrMap, body: &Value) -> Vec<(String, HashSet<String>)> {
    let d = desired(map, body, &Refs::default())
        .unwrap_or_else(|e| panic!("the configuration refuses {body}: {e}"));
    let mut attrs = vec![(
        "objectClass".to_owned(),
        map.object_classes.iter().cloned().collect(),
    )];
    attrs.extend(
        d.values
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect())),
    );
    attrs
}
