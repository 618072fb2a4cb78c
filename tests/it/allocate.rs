//! uidNumber / gidNumber allocation on a real directory, with the harness's
//! uniqueness enforcement on (OpenLDAP's `unique` overlay, 389-ds's attribute
//! uniqueness plugin) and, on 389-ds, its DNA plugin: every strategy hands
//! out distinct numbers inside its range, through two daemons at once; a
//! number assigned by hand is skipped; an exhausted range is a 409 that
//! writes nothing; an allocated number never changes on PATCH or PUT; the
//! deterministic strategy gives the same Entra object the same number again.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::{Daemon, Server, admin_ldap, attr, config_text, entra_user, patch_body, unique};

/// Users become posixAccount entries (uid stays the RDN mapped from
/// userName); `allocate` is the body of `[users.allocate]`.
fn posix_config(server: Server, allocate: &str) -> String {
    posix_config_with(server, "", allocate)
}

/// [`posix_config`] with more `[users.computed]` lines.
fn posix_config_with(server: Server, computed: &str, allocate: &str) -> String {
    let text = config_text(server).replacen("\"scimUser\"", "\"scimUser\", \"posixAccount\"", 1);
    assert!(
        text.contains("\"posixAccount\""),
        "the config changed shape"
    );
    format!(
        "{text}\n[users.computed]\nhomeDirectory = \"/home/{{userName}}\"\n{computed}\n\n[users.allocate]\n{allocate}\n"
    )
}

/// A block of 10,000 numbers no other test (and, very likely, no earlier
/// run against the same servers) uses: ranges stay apart, so each test sees
/// only its own numbers.
fn fresh_block() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let slot = (micros / 1000 + N.fetch_add(1, Ordering::Relaxed) * 7919) % 400_000;
    10_000_000 + slot * 10_000
}

/// The documented deterministic mapping, computed independently of the
/// daemon: FNV-1a 64 of the UTF-8 bytes, `min + hash mod (max - min + 1)`.
fn first_candidate(min: u64, max: u64, source: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in source.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    min + h % (max - min + 1)
}

/// The user's stored uidNumber and gidNumber.
async fn numbers(d: &Daemon, user: &Value) -> (Option<u64>, Option<u64>) {
    let e = d.entry(&d.user_dn(user)).await.expect("the user's entry");
    let n = |a| attr(&e, a).map(|v| v.parse::<u64>().expect("a number"));
    (n("uidNumber"), n("gidNumber"))
}

async fn create(d: &Daemon, body: &Value) -> Value {
    let (s, v) = d.call("POST", "/Users", Some(body)).await;
    assert_eq!(s, 201, "{v}");
    v
}

/// Adds a posixAccount the daemon did not create (a number assigned by hand
/// or by another tool).
async fn hand_assigned(server: Server, number: u64) -> String {
    let name = unique("by-hand");
    let dn = format!("uid={name},ou=people,dc=example,dc=com");
    let mut l = admin_ldap(server, &server.url()).await;
    let n = number.to_string();
    let home = format!("/home/{name}");
    let r = l
        .add(
            &dn,
            vec![
                (
                    "objectClass",
                    ["inetOrgPerson", "posixAccount"].into_iter().collect(),
                ),
                ("uid", [name.as_str()].into_iter().collect()),
                ("cn", ["by hand"].into_iter().collect()),
                ("sn", ["hand"].into_iter().collect()),
                ("uidNumber", [n.as_str()].into_iter().collect()),
                ("gidNumber", ["10000"].into_iter().collect()),
                ("homeDirectory", [home.as_str()].into_iter().collect()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.rc, 0, "{r:?}");
    dn
}

/// Where a counter keeps its value.
#[derive(Debug, Clone, Copy)]
enum CounterAttr {
    /// `serialNumber` of a plain `device` entry (what the README suggests:
    /// no uniqueness check looks at it).
    Serial,
    /// The allocated attribute itself (`counter_attribute` left out), on an
    /// `extensibleObject`.
    Allocated,
}

impl CounterAttr {
    fn name(self) -> &'static str {
        match self {
            CounterAttr::Serial => "serialNumber",
            CounterAttr::Allocated => "uidNumber",
        }
    }

    /// The `counter_attribute` key, if any.
    fn key(self) -> &'static str {
        match self {
            CounterAttr::Serial => ", counter_attribute = \"serialNumber\"",
            CounterAttr::Allocated => "",
        }
    }
}

/// A counter entry inside ou=people holding `value` (none: no value yet).
async fn counter_entry(server: Server, at: CounterAttr, value: Option<u64>) -> String {
    let name = unique("next-uid");
    let dn = format!("cn={name},ou=people,dc=example,dc=com");
    let mut l = admin_ldap(server, &server.url()).await;
    let v = value.map(|v| v.to_string());
    let classes = match at {
        CounterAttr::Serial => vec!["device"],
        CounterAttr::Allocated => vec!["device", "extensibleObject"],
    };
    let mut attrs = vec![
        ("objectClass", classes.into_iter().collect()),
        ("cn", [name.as_str()].into_iter().collect()),
    ];
    if let Some(v) = &v {
        attrs.push((at.name(), [v.as_str()].into_iter().collect()));
    }
    let r = l.add(&dn, attrs).await.unwrap();
    assert_eq!(r.rc, 0, "{r:?}");
    dn
}

/// The counter's current value.
async fn counter_value(d: &Daemon, dn: &str, at: CounterAttr) -> Option<u64> {
    let e = d.entry(dn).await.expect("the counter entry");
    attr(&e, at.name()).map(|v| v.parse().unwrap())
}

/// Asserts the allocated number survives a PATCH and a PUT (which does not
/// carry it: no SCIM attribute maps onto it).
async fn kept_on_update(d: &Daemon, user: &Value, body: &Value) {
    let before = numbers(d, user).await;
    assert!(before.0.is_some(), "{before:?}");
    let id = user["id"].as_str().unwrap();
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(&patch_body(
                json!([{"op": "Replace", "path": "displayName", "value": "Renamed Person"}]),
            )),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(numbers(d, user).await, before, "after PATCH");
    let mut put = body.clone();
    put["title"] = json!("Changed by PUT");
    let (s, v) = d.call("PUT", &format!("/Users/{id}"), Some(&put)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(numbers(d, user).await, before, "after PUT");
}

/// Asserts a create is refused with 409 naming the attribute and the range,
/// and that nothing was written.
async fn refused_as_exhausted(d: &Daemon, min: u64, max: u64) {
    let body = entra_user(&unique("late"));
    let (s, v) = d.call("POST", "/Users", Some(&body)).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["scimType"], "uniqueness", "{v}");
    let detail = v["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("uidNumber"), "{detail}");
    assert!(detail.contains(&format!("[{min}, {max}]")), "{detail}");
    let uid = body["userName"].as_str().unwrap();
    assert!(
        d.dns(&format!("(uid={uid})")).await.is_empty(),
        "an exhausted range wrote {uid}"
    );
}

/// deterministic: the number is the documented hash of externalId (userName
/// when there is none), the same again after delete and re-create, past a
/// number assigned by hand, and never changed by PATCH or PUT; the user-private
/// group takes the same number.
pub async fn deterministic_numbers_follow_the_source(server: Server) {
    let min = fresh_block();
    let max = min + 9_999;
    let d = Daemon::with_config(
        server,
        &posix_config(
            server,
            &format!(
                "uidNumber = {{ strategy = \"deterministic\", from = [\"{{externalId}}\", \"{{userName}}\"], range = [{min}, {max}] }}\ngidNumber = {{ strategy = \"same\", as = \"uidNumber\" }}"
            ),
        ),
    )
    .await;
    let body = entra_user(&unique("det"));
    let want = first_candidate(min, max, body["externalId"].as_str().unwrap());
    let user = create(&d, &body).await;
    assert_eq!(numbers(&d, &user).await, (Some(want), Some(want)));
    kept_on_update(&d, &user, &body).await;
    // Deleted and provisioned again: the same number.
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/Users/{}", user["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let again = create(&d, &body).await;
    assert_ne!(again["id"], user["id"]);
    assert_eq!(numbers(&d, &again).await, (Some(want), Some(want)));
    // Without an externalId the userName is the source.
    let mut plain = entra_user(&unique("det-plain"));
    plain.as_object_mut().unwrap().remove("externalId");
    let want_plain = first_candidate(min, max, plain["userName"].as_str().unwrap());
    let u = create(&d, &plain).await;
    assert_eq!(numbers(&d, &u).await.0, Some(want_plain));
    // A number assigned by hand where the hash points: the next one.
    let other = entra_user(&unique("det-skip"));
    let first = first_candidate(min, max, other["externalId"].as_str().unwrap());
    hand_assigned(server, first).await;
    let next = if first == max { min } else { first + 1 };
    let u = create(&d, &other).await;
    assert_eq!(numbers(&d, &u).await.0, Some(next));
}

/// deterministic in a range of three: three users take the three numbers
/// (colliding hashes probe onwards), the fourth is refused and not written.
pub async fn deterministic_tiny_range_is_exhausted(server: Server) {
    let min = fresh_block();
    let max = min + 2;
    let d = Daemon::with_config(
        server,
        &posix_config(
            server,
            &format!(
                "uidNumber = {{ strategy = \"deterministic\", from = \"{{externalId}}\", range = [{min}, {max}] }}\ngidNumber = {{ strategy = \"same\", as = \"uidNumber\" }}"
            ),
        ),
    )
    .await;
    let mut got = BTreeSet::new();
    for _ in 0..3 {
        let u = create(&d, &entra_user(&unique("tiny"))).await;
        got.insert(numbers(&d, &u).await.0.unwrap());
    }
    assert_eq!(got, (min..=max).collect::<BTreeSet<_>>());
    refused_as_exhausted(&d, min, max).await;
}

/// counter: dense numbers from the counter entry, past a number assigned by
/// hand, the counter left at the next free number; kept on PATCH and PUT;
/// past the range a 409 that writes nothing and leaves the counter alone.
pub async fn counter_hands_out_dense_numbers(server: Server) {
    let min = fresh_block();
    let max = min + 3;
    let at = CounterAttr::Serial;
    let counter = counter_entry(server, at, Some(min)).await;
    hand_assigned(server, min + 1).await;
    let d = Daemon::with_config(
        server,
        &posix_config(
            server,
            &format!(
                "uidNumber = {{ strategy = \"counter\", counter = \"{counter}\"{}, range = [{min}, {max}] }}\ngidNumber = {{ strategy = \"same\", as = \"uidNumber\" }}",
                at.key()
            ),
        ),
    )
    .await;
    let mut got = Vec::new();
    let mut first = None;
    for _ in 0..3 {
        let body = entra_user(&unique("ctr"));
        let u = create(&d, &body).await;
        let (uid, gid) = numbers(&d, &u).await;
        assert_eq!(uid, gid);
        got.push(uid.unwrap());
        first.get_or_insert((u, body));
    }
    assert_eq!(got, [min, min + 2, min + 3]);
    assert_eq!(counter_value(&d, &counter, at).await, Some(max + 1));
    let (u, body) = first.unwrap();
    kept_on_update(&d, &u, &body).await;
    refused_as_exhausted(&d, min, max).await;
    assert_eq!(counter_value(&d, &counter, at).await, Some(max + 1));
}

/// counter: a counter entry without a value yet starts at the range's min
/// (here the counter is kept in the allocated attribute itself).
pub async fn counter_without_a_value_starts_at_min(server: Server) {
    let min = fresh_block();
    let at = CounterAttr::Allocated;
    let counter = counter_entry(server, at, None).await;
    let d = Daemon::with_config(
        server,
        &posix_config(
            server,
            &format!(
                "uidNumber = {{ strategy = \"counter\", counter = \"{counter}\", range = [{min}, {}] }}\ngidNumber = {{ strategy = \"same\", as = \"uidNumber\" }}",
                min + 100
            ),
        ),
    )
    .await;
    let u = create(&d, &entra_user(&unique("ctr0"))).await;
    assert_eq!(numbers(&d, &u).await.0, Some(min));
    assert_eq!(counter_value(&d, &counter, at).await, Some(min + 1));
}

/// Two daemons on the same directory, 8 clients, 40 creates at once: 40
/// distinct numbers inside the range.
async fn forty_concurrent_creates(server: Server, text: &str, min: u64, max: u64) {
    let daemons = Arc::new([
        Daemon::with_config(server, text).await,
        Daemon::with_config(server, text).await,
    ]);
    let mut clients = Vec::new();
    for c in 0..8 {
        let daemons = daemons.clone();
        clients.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..5 {
                let d = &daemons[(c + i) % 2];
                let u = create(d, &entra_user(&unique("many"))).await;
                out.push(numbers(d, &u).await.0.unwrap());
            }
            out
        }));
    }
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.await.unwrap());
    }
    assert_eq!(all.len(), 40);
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), 40, "{all:?}");
    assert!(all.iter().all(|n| (min..=max).contains(n)), "{all:?}");
}

pub async fn deterministic_forty_creates_through_two_daemons(server: Server) {
    // 64 numbers for 40 users: the hashes collide, the probing and the
    // directory's uniqueness check sort them out.
    let min = fresh_block();
    let max = min + 63;
    forty_concurrent_creates(
        server,
        &posix_config(server, &format!(
            "uidNumber = {{ strategy = \"deterministic\", from = \"{{externalId}}\", range = [{min}, {max}] }}\ngidNumber = {{ strategy = \"same\", as = \"uidNumber\" }}"
        )),
        min,
        max,
    )
    .await;
}

pub async fn counter_forty_creates_through_two_daemons(server: Server) {
    let min = fresh_block();
    let max = min + 9_999;
    let at = CounterAttr::Serial;
    let counter = counter_entry(server, at, Some(min)).await;
    forty_concurrent_creates(
        server,
        &posix_config(server, &format!(
            "uidNumber = {{ strategy = \"counter\", counter = \"{counter}\"{}, range = [{min}, {max}] }}\ngidNumber = {{ strategy = \"same\", as = \"uidNumber\" }}",
            at.key()
        )),
        min,
        max,
    )
    .await;
}

/// The harness's DNA range for uidNumber on 389-ds.
const DNA_MIN: u64 = 500_000;
const DNA_MAX: u64 = 599_999;

/// DNA's uidNumber and a fixed primary group (a number the directory
/// assigns is known only after the add, so `same` cannot follow it).
fn server_config(server: Server) -> String {
    posix_config_with(
        server,
        "gidNumber = \"10000\"",
        &format!(
            "uidNumber = {{ strategy = \"server\", magic = \"-1\", range = [{DNA_MIN}, {DNA_MAX}] }}"
        ),
    )
}

/// server (389-ds DNA): the number the directory assigned, read back in the
/// add itself, inside DNA's range; kept on
/// PATCH and PUT; DNA's next value assigned by hand is skipped.
pub async fn server_strategy_takes_the_directory_number(server: Server) {
    let d = Daemon::with_config(server, &server_config(server)).await;
    let body = entra_user(&unique("dna"));
    let u = create(&d, &body).await;
    let (uid, gid) = numbers(&d, &u).await;
    let uid = uid.unwrap();
    assert!((DNA_MIN..=DNA_MAX).contains(&uid), "{uid}");
    assert_eq!(gid, Some(10000));
    kept_on_update(&d, &u, &body).await;
    // The next user gets a higher number; one assigned by hand where DNA
    // would go next is skipped.
    let mut l = admin_ldap(server, &server.url()).await;
    let (rs, _) = l
        .search(
            "cn=uidNumber,cn=Distributed Numeric Assignment Plugin,cn=plugins,cn=config",
            ldap3::Scope::Base,
            "(objectClass=*)",
            vec!["dnaNextValue"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let config = ldap3::SearchEntry::construct(rs.into_iter().next().unwrap());
    let next: u64 = attr(&config, "dnaNextValue").unwrap().parse().unwrap();
    assert!(next > uid, "DNA's next value {next} after {uid}");
    hand_assigned(server, next).await;
    let v = create(&d, &entra_user(&unique("dna"))).await;
    let n = numbers(&d, &v).await.0.unwrap();
    assert!(
        n > next && n <= DNA_MAX,
        "{n} after the hand-assigned {next}"
    );
}

/// After [`server_strategy_takes_the_directory_number`] in the same test:
/// it puts a number by hand where DNA goes next, which concurrent creates
/// would race for.
pub async fn server_forty_creates_through_two_daemons(server: Server) {
    forty_concurrent_creates(server, &server_config(server), DNA_MIN, DNA_MAX).await;
}

/// Groups become posixGroup entries with a deterministic gidNumber: on
/// OpenLDAP (RFC 2307, `posixGroup` structural) with `memberUid` members
/// under their own ou, on 389-ds (`rfc2307compat`, `posixGroup` auxiliary)
/// next to `groupOfNames` with member DNs.
fn posix_groups_config(server: Server, min: u64, max: u64) -> String {
    let text = match server {
        // The OpenLDAP example config already has the daemon keep referential integrity.
        Server::OpenLdap => super::member_uid_groups(&config_text(server), "posixgroups"),
        Server::Ds389 => config_text(server).replace(
            "object_classes = [\"groupOfNames\", \"top\", \"scimGroup\"",
            "object_classes = [\"groupOfNames\", \"posixGroup\", \"top\", \"scimGroup\"",
        ),
    };
    assert!(text.contains("\"posixGroup\""), "the config changed shape");
    format!(
        "{text}\n[groups.allocate]\ngidNumber = {{ strategy = \"deterministic\", from = [\"{{externalId}}\", \"{{displayName | lower}}\"], range = [{min}, {max}] }}\n"
    )
}

/// The group's stored gidNumber.
async fn gid_of(d: &Daemon, group: &Value) -> Option<u64> {
    let dn = d
        .config
        .groups
        .as_ref()
        .unwrap()
        .dn_for(group["displayName"].as_str().unwrap())
        .to_string();
    let e = d.entry(&dn).await.expect("the group's entry");
    attr(&e, "gidNumber").map(|v| v.parse().unwrap())
}

/// deterministic gidNumber for groups: the documented hash of externalId,
/// kept when members change, the same after delete and re-create.
pub async fn group_gid_numbers_follow_the_source(server: Server) {
    if server == Server::OpenLdap {
        let mut l = admin_ldap(server, &server.url()).await;
        let r = l
            .add(
                "ou=posixgroups,dc=example,dc=com",
                vec![
                    ("objectClass", ["organizationalUnit"].into_iter().collect()),
                    ("ou", ["posixgroups"].into_iter().collect()),
                ],
            )
            .await
            .unwrap();
        assert!(r.rc == 0 || r.rc == 68, "{r:?}");
    }
    let min = fresh_block();
    let max = min + 9_999;
    let d = Daemon::with_config(server, &posix_groups_config(server, min, max)).await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "externalId": unique("gext"),
        "displayName": unique("PosixTeam"),
        "members": [],
    });
    let want = first_candidate(min, max, body["externalId"].as_str().unwrap());
    let (s, g) = d.call("POST", "/Groups", Some(&body)).await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(gid_of(&d, &g).await, Some(want));
    let u = d.create_user(&unique("gm")).await;
    let id = g["id"].as_str().unwrap();
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Groups/{id}"),
            Some(&patch_body(
                json!([{"op": "add", "path": "members", "value": [{"value": u["id"]}]}]),
            )),
        )
        .await;
    assert!(s == 200 || s == 204, "{s} {v}");
    assert_eq!(gid_of(&d, &g).await, Some(want), "after a member PATCH");
    let (s, _) = d.call("DELETE", &format!("/Groups/{id}"), None).await;
    assert_eq!(s, 204);
    let (s, again) = d.call("POST", "/Groups", Some(&body)).await;
    assert_eq!(s, 201, "{again}");
    assert_eq!(gid_of(&d, &again).await, Some(want), "re-created");
}
