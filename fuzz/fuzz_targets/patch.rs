//! PATCH bodies: `scim::patch::parse` never panics and refuses only with a
//! 400; what it accepts is planned against a user and a group of the example
//! config, which again never panics and refuses only with a 400.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim2ldap::ldap::Entry;
use scim2ldap::mapping::patch::plan_patch;
use scim2ldap::mapping::{RefEntry, Refs, ResourceKind};
use scim2ldap::scim::patch;

#[path = "common.rs"]
mod common;

const MEMBER: &str = "11111111-1111-1111-1111-111111111111";

fn entry(dn: &str, attrs: &[(&str, &[&str])]) -> Entry {
    Entry::new(
        dn.to_owned(),
        attrs.iter().map(|(k, v)| {
            (
                (*k).to_owned(),
                v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>(),
            )
        }),
    )
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let ops = match patch::parse(&body) {
        Ok(ops) => ops,
        Err(e) => {
            assert_eq!(e.status().as_u16(), 400, "{body}: {e:?}");
            return;
        }
    };
    let c = common::config();
    let mut refs = Refs::default();
    refs.insert(RefEntry {
        id: MEMBER.to_owned(),
        kind: ResourceKind::User,
        dn: "uid=one,ou=people,dc=example,dc=com".to_owned(),
        rdn_value: "one".to_owned(),
        display: None,
    });
    let user = entry(
        "uid=alice,ou=people,dc=example,dc=com",
        &[
            ("uid", &["alice"]),
            ("givenName", &["Alice"]),
            ("sn", &["Smith"]),
            ("cn", &["Alice Smith"]),
            ("mail", &["alice@example.com"]),
            ("title", &["Engineer"]),
            ("telephoneNumber", &["+1 555 0100"]),
            ("scimOrderCard", &["TRUE"]),
            ("entryUUID", &["22222222-2222-2222-2222-222222222222"]),
        ],
    );
    if let Err(e) = plan_patch(&c.users, &user, &ops, &refs) {
        assert_eq!(e.status().as_u16(), 400, "{body}: {e:?}");
    }
    if let Some(groups) = &c.groups {
        let group = entry(
            "cn=staff,ou=groups,dc=example,dc=com",
            &[
                ("cn", &["staff"]),
                ("member", &["uid=one,ou=people,dc=example,dc=com"]),
                ("entryUUID", &["33333333-3333-3333-3333-333333333333"]),
            ],
        );
        if let Err(e) = plan_patch(groups, &group, &ops, &refs) {
            assert_eq!(e.status().as_u16(), 400, "{body}: {e:?}");
        }
    }
});
