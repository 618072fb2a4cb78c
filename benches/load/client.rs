//! The two clients' shared state: the HTTP client and token of the SCIM side, the ldap3
//! handles of the direct side, the names and ids of what they made, and how they connect.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, Scope, SearchEntry};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::options::Opts;
use crate::shape::Shape;

pub const PEOPLE: &str = "ou=people,dc=example,dc=com";
pub const GROUPS: &str = "ou=groups,dc=example,dc=com";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Longest any one operation may take before the run is abandoned.
pub const OP_TIMEOUT: Duration = Duration::from_secs(60);

/// Which client does the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Scim,
    Direct,
}

impl Side {
    pub fn tag(self) -> &'static str {
        match self {
            Side::Scim => "s",
            Side::Direct => "d",
        }
    }
}

pub struct Ctx {
    pub opts: Opts,
    pub http: reqwest::Client,
    pub base: String,
    pub auth: String,
    pub ldap: Vec<Ldap>,
    pub next: AtomicUsize,
    pub run: String,
    pub daemon_pid: String,
    pub slapd_pid: Option<String>,
    /// user or group name -> entryUUID, for both sides.
    pub ids: Mutex<HashMap<String, String>>,
    /// What the daemon's configuration writes and reads.
    pub shape: Shape,
    /// The server answers the PostRead control (--mirror uses it as the daemon does).
    pub post_read: bool,
}

#[derive(Deserialize)]
pub struct Created {
    pub id: String,
}

pub type OpResult = Result<(), String>;

impl Ctx {
    pub fn handle(&self) -> Ldap {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.ldap.len();
        self.ldap[i].clone()
    }

    pub fn user(&self, side: Side, set: &str, i: usize) -> String {
        format!("{}-{}-{set}-{i:05}", self.run, side.tag())
    }

    pub fn user_dn(&self, name: &str) -> String {
        format!("uid={name},{PEOPLE}")
    }

    pub fn id(&self, name: &str) -> Result<String, String> {
        self.ids
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no id known for {name}"))
    }

    pub fn set_id(&self, name: String, id: String) {
        self.ids.lock().unwrap().insert(name, id);
    }

    /// Looks a user up by name on one side, expecting `want` results.
    pub async fn match_user(&self, side: Side, name: &str, want: usize) -> OpResult {
        match side {
            Side::Scim => self.scim_match(name, want).await,
            Side::Direct => self.direct_match(name, want).await,
        }
    }
}

pub fn check_total(body: &[u8], want: usize, name: &str) -> OpResult {
    let needle = format!("\"totalResults\":{want}");
    if body.windows(needle.len()).any(|w| w == needle.as_bytes()) {
        Ok(())
    } else {
        Err(format!(
            "match {name}: wanted {needle}, got {}",
            String::from_utf8_lossy(body)
        ))
    }
}

/// Entra's create body for a user (`tests/fixtures/entra-user.json`, shared with the tests),
/// with `user_name`, its own externalId and mail address.
pub fn entra_user(user_name: &str) -> Value {
    let mut body: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/entra-user.json")).unwrap();
    body["userName"] = json!(user_name);
    body["externalId"] = json!(format!("ext-{user_name}"));
    body["emails"][0]["value"] = json!(format!("{user_name}@example.com"));
    body
}

/// Entra's create body for an empty group.
pub fn group_body(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "externalId": format!("ext-{name}"),
        "displayName": name,
        "members": [],
        "meta": {"resourceType": "Group"},
    })
}

/// Whether the rootDSE lists the PostRead control (RFC 4527), as the daemon checks.
pub async fn supports_post_read(ldap: &mut Ldap) -> bool {
    let Ok(r) = ldap
        .search("", Scope::Base, "(objectClass=*)", vec!["supportedControl"])
        .await
    else {
        return false;
    };
    let Ok((rs, _)) = r.success() else {
        return false;
    };
    rs.into_iter().map(SearchEntry::construct).any(|e| {
        e.attrs
            .get("supportedControl")
            .is_some_and(|v| v.iter().any(|o| o == "1.3.6.1.1.13.2"))
    })
}

pub async fn connect(url: &str, dn: &str, pw: &str) -> Ldap {
    let (conn, mut ldap) = LdapConnAsync::new(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {url}: {e}"));
    ldap3::drive!(conn);
    ldap.simple_bind(dn, pw)
        .await
        .and_then(|r| r.success())
        .unwrap_or_else(|e| panic!("bind {dn}: {e}"));
    ldap
}
