//! `scim2ldap check-config`: parse, bind, and check every mapped attribute and
//! object class against the server's subschema; report what the server's
//! capabilities mean for this configuration. One line per problem.
//!
//! Replication: a version attribute the server keeps per server (such as
//! 389-ds's `entryUSN`) gives the same state a different ETag on each replica,
//! so an `If-Match` read through one daemon fails through another, and a stale
//! ETag can match by chance. It is refused when the server replicates the
//! configured bases, and warned about when that cannot be told. Replication is
//! read, with the configured bind, from `cn=config` (389-ds: an `nsds5Replica`
//! entry whose `nsDS5ReplicaRoot` holds the base) or from the `contextCSN`
//! that OpenLDAP's syncprov keeps on the naming context. These reads are the
//! only ones outside the configured bases, like the rootDSE and subschema.

use std::process::ExitCode;
use std::sync::Arc;

use crate::config::Config;
use crate::directory::pool::LdapPool;
use crate::directory::{Capabilities, Directory, Scope, subschema};
use crate::ldap::{Dn, Entry, Filter};
use crate::mapping::AttrMap;
use crate::service::Service;
use crate::telemetry::Metrics;

/// Version attributes a server keeps for itself: they differ between replicas
/// of the same entry (lower case).
const PER_SERVER_VERSIONS: &[&str] = &["entryusn"];

/// Whether the directory replicates a base, as far as the bind DN can see.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Replication {
    /// Replicated, and the evidence.
    Replicated(String),
    /// The server's replication configuration is readable and lists none.
    Single,
    /// Nothing readable tells.
    Unknown,
}

/// Reads how `base` is replicated (see the module doc).
async fn replication(pool: &LdapPool, base: &Dn) -> Replication {
    let search = |base: &str, scope, filter, attrs: &[&str]| crate::directory::Search {
        base: base.to_owned(),
        scope,
        filter,
        attrs: attrs.iter().map(|a| (*a).to_owned()).collect(),
    };
    let config = pool
        .search(search(
            "cn=config",
            Scope::Base,
            Filter::everything(),
            &["1.1"],
        ))
        .await;
    if matches!(config, Ok(ref v) if !v.is_empty()) {
        let replicas = pool
            .search(search(
                "cn=mapping tree,cn=config",
                Scope::Subtree,
                Filter::Equal("objectClass".to_owned(), "nsds5Replica".to_owned()),
                &["nsDS5ReplicaRoot"],
            ))
            .await
            .unwrap_or_default();
        return match replicas.iter().find(|r| {
            r.first("nsDS5ReplicaRoot")
                .and_then(|root| Dn::parse(root).ok())
                .is_some_and(|root| base.is_within(&root))
        }) {
            Some(r) => Replication::Replicated(format!("cn=config has the replica {}", r.dn)),
            None => Replication::Single,
        };
    }
    let context = pool
        .capabilities()
        .naming_contexts
        .iter()
        .filter_map(|nc| Dn::parse(nc).ok())
        .find(|nc| base.is_within(nc));
    let Some(context) = context else {
        return Replication::Unknown;
    };
    let found = pool
        .search(search(
            &context.to_string(),
            Scope::Base,
            Filter::everything(),
            &["contextCSN"],
        ))
        .await;
    match found.ok().and_then(|v| v.into_iter().next()) {
        Some(e) if !e.values("contextCSN").is_empty() => Replication::Replicated(format!(
            "{context} carries contextCSN (syncrepl) from {} server(s)",
            e.values("contextCSN").len()
        )),
        _ => Replication::Unknown,
    }
}

/// Refuses (or warns about) a per-server version attribute on a replicated
/// base; returns the warnings.
async fn check_versions(
    pool: &LdapPool,
    config: &Config,
    problems: &mut Vec<String>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for map in [Some(&config.users), config.groups.as_ref()]
        .into_iter()
        .flatten()
    {
        let attr = &map.version_attribute;
        if !PER_SERVER_VERSIONS.contains(&attr.to_ascii_lowercase().as_str()) {
            continue;
        }
        let sec = crate::mapping::section(map.kind);
        let fix = match &map.version_token {
            Some(t) => format!(
                "set {sec}.version_attribute = \"{t}\" (the version token, which replicates)"
            ),
            None => format!(
                "set {sec}.version_token and {sec}.version_attribute to a writable attribute such as scimVersion"
            ),
        };
        match replication(pool, &map.base).await {
            Replication::Replicated(why) => problems.push(format!(
                "{sec}.version_attribute: {attr} is kept per server, and {} is replicated ({why}): the same entry would have a different ETag on each replica; {fix}",
                map.base
            )),
            Replication::Unknown => warnings.push(format!(
                "{sec}.version_attribute: {attr} is kept per server; the bind DN cannot read whether {} is replicated. If it is, {fix}",
                map.base
            )),
            Replication::Single => {}
        }
    }
    warnings
}

fn check_map(map: &AttrMap, schema: &subschema::Subschema, problems: &mut Vec<String>) {
    let sec = crate::mapping::section(map.kind);
    for oc in &map.object_classes {
        if !schema.object_classes.contains(&oc.to_ascii_lowercase()) {
            problems.push(format!("{sec}.object_classes: {oc} is not an object class of this server (load config/schema/ or fix the name)"));
        }
    }
    for m in map.managed() {
        let Some(key) = map.setting(m.role) else {
            continue;
        };
        if !schema
            .attribute_types
            .contains(&m.ldap.to_ascii_lowercase())
        {
            problems.push(format!(
                "{key}: LDAP attribute {} does not exist on this server",
                m.ldap
            ));
        }
    }
    problems.extend(syntax_problems(map, schema));
}

/// A template that can render non-ASCII text into an IA5String attribute
/// would fail at the first user called José: one line naming the key.
pub fn syntax_problems(map: &AttrMap, schema: &subschema::Subschema) -> Vec<String> {
    let sec = crate::mapping::section(map.kind);
    let tables = [("defaults", &map.defaults), ("computed", &map.computed)];
    let mut out = Vec::new();
    for (table, templates) in tables {
        for (attr, t) in templates.iter() {
            if schema.ia5.contains(&attr.to_ascii_lowercase()) && !t.renders_ascii() {
                out.push(format!(
                    "{sec}.{table}.{attr}: {attr} holds ASCII only (IA5String) but the template can render other characters; pipe its placeholders through | ascii (\"{{name.familyName | ascii}}\")"
                ));
            }
        }
    }
    out
}

/// What a computed RDN means for the entries already under the base: one
/// note on what it does, and a warning for entries without the attribute
/// the name is rendered from (they show no name, and Entra's `userName eq`
/// match cannot find them) and for entries not named by that rendering
/// (they keep their name until the attribute changes).
/// `memberUid`: which groups' member values hold the RDN value a rename changes
/// (`None` when groups hold member DNs or there are none).
pub fn naming_notes(
    map: &AttrMap,
    member_uid: Option<&AttrMap>,
    entries: &[Entry],
) -> (String, Vec<String>) {
    let sec = crate::mapping::section(map.kind);
    let Some((key, t)) = map
        .computed
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(&map.rdn))
    else {
        return (String::new(), Vec::new());
    };
    let inputs: Vec<&crate::mapping::Field> = t
        .inputs()
        .into_iter()
        .filter_map(|i| map.fields.get(i))
        .collect();
    let names: Vec<String> = inputs.iter().map(|f| f.path_text()).collect();
    let note = format!(
        "{sec}.rdn: {} is computed ({sec}.computed.{key}) from {}: a change that renders another name renames the entry (before its other changes; a name another entry has is a 409){}",
        map.rdn,
        names.join(", "),
        if map.kind == crate::scim::ResourceKind::User && member_uid.is_some() {
            ", and memberUid values in groups follow"
        } else {
            ""
        }
    );
    let (mut unnamed, mut drifted) = (Vec::new(), Vec::new());
    for e in entries {
        let value = |i: usize| map.fields.get(i).and_then(|f| e.first(&f.ldap));
        if inputs.iter().any(|f| e.first(&f.ldap).is_none()) {
            unnamed.push(e.dn.to_string());
            continue;
        }
        let (Some(now), Some(rendered)) = (e.dn.rdn_value(&map.rdn), t.render(value)) else {
            continue;
        };
        if !now.eq_ignore_ascii_case(&rendered) {
            drifted.push(format!("{} would be {}={rendered}", e.dn, map.rdn));
        }
    }
    let mut warnings = Vec::new();
    let stored_in: Vec<&str> = inputs.iter().map(|f| f.ldap.as_str()).collect();
    if let Some(first) = unnamed.first() {
        warnings.push(format!(
            "{sec}.computed.{key}: {} entries under {} have no {} to render their name from, so they show no {} and a client's match on it cannot find them (e.g. {first}); give them one",
            unnamed.len(),
            map.base,
            stored_in.join(", "),
            names.join(", ")
        ));
    }
    if let Some(first) = drifted.first() {
        warnings.push(format!(
            "{sec}.computed.{key}: {} entries under {} are not named by the rendering of their {} (e.g. {first}); each keeps its name until that changes",
            drifted.len(),
            map.base,
            names.join(", ")
        ));
    }
    (note, warnings)
}

/// Reads the entries under a map's base with what its computed RDN is
/// rendered from, for [`naming_notes`].
async fn check_naming(pool: &LdapPool, map: &AttrMap, member_uid: Option<&AttrMap>) -> Vec<String> {
    let Some(t) = map.naming_template() else {
        return Vec::new();
    };
    let mut attrs: Vec<String> = t
        .inputs()
        .into_iter()
        .filter_map(|i| map.fields.get(i).map(|f| f.ldap.clone()))
        .collect();
    attrs.push(map.rdn.clone());
    let search = crate::directory::Search {
        base: map.base.to_string(),
        scope: Scope::Subtree,
        filter: Filter::Equal(
            "objectClass".to_owned(),
            map.object_classes.first().cloned().unwrap_or_default(),
        ),
        attrs,
    };
    let entries = match pool.search(search).await {
        Ok(v) => v,
        Err(e) => {
            return vec![format!(
                "warning: cannot read the entries under {} to check their names: {e}",
                map.base
            )];
        }
    };
    let (note, warnings) = naming_notes(map, member_uid, &entries);
    std::iter::once(format!("note: {note}"))
        .chain(warnings.into_iter().map(|w| format!("warning: {w}")))
        .collect()
}

/// Binds and runs every check, printing warnings and notes as they come and
/// the problems at the end; fails when there is one.
pub async fn run(config: Config) -> Result<ExitCode, ExitCode> {
    for w in &config.warnings {
        println!("warning: {w}");
    }
    let pool = bind(&config).await?;
    let caps = pool.capabilities().clone();
    for line in caps.describe() {
        println!("capability: {line}");
    }
    let mut problems = Vec::new();
    let schema = check_schema(&pool, &config, &mut problems).await;
    check_allocation(&pool, &config, schema.as_ref(), &mut problems).await;
    if !caps.password_modify && config.users.password == Some(crate::mapping::PasswordMode::Modify)
    {
        problems.push("users.password: the server lacks the Password Modify extended operation; set users.password = \"attribute\"".to_owned());
    }
    for w in check_versions(&pool, &config, &mut problems).await {
        println!("warning: {w}");
    }
    print_naming(&pool, &config).await;
    print_capability_notes(&caps);
    let service = Service::new(pool, Arc::new(config), Arc::new(Metrics::default()));
    for base in service.missing_bases().await {
        problems.push(format!(
            "base {base} does not exist or is not readable by the bind DN"
        ));
    }
    report(&problems)
}

/// Connects the pool and says where it bound, or why it could not.
async fn bind(config: &Config) -> Result<LdapPool, ExitCode> {
    let pool = match LdapPool::connect(&config.ldap).await {
        Ok(p) => p,
        Err(e) => {
            println!("ldap: cannot bind to {}: {e}", config.ldap.urls.join(", "));
            return Err(ExitCode::FAILURE);
        }
    };
    println!(
        "ldap: bound to {} as {}",
        config.ldap.urls.join(", "),
        config.ldap.bind_dn
    );
    Ok(pool)
}

/// Reads the subschema and checks each map against it; `None` (and a
/// problem) when it cannot be read.
async fn check_schema(
    pool: &LdapPool,
    config: &Config,
    problems: &mut Vec<String>,
) -> Option<subschema::Subschema> {
    match subschema::read(pool).await {
        Ok(schema) => {
            check_map(&config.users, &schema, problems);
            if let Some(g) = &config.groups {
                check_map(g, &schema, problems);
            }
            Some(schema)
        }
        Err(e) => {
            problems.push(format!("ldap: cannot read the subschema: {e}"));
            None
        }
    }
}

/// The `[allocate]` checks: problems kept, warnings and notes printed.
async fn check_allocation(
    pool: &LdapPool,
    config: &Config,
    schema: Option<&subschema::Subschema>,
    problems: &mut Vec<String>,
) {
    let allocation = super::check_allocate::check(pool, config, schema).await;
    problems.extend(allocation.problems);
    for w in allocation.warnings {
        println!("warning: {w}");
    }
    for n in allocation.notes {
        println!("note: {n}");
    }
}

/// Prints what [`check_naming`] finds for each map.
async fn print_naming(pool: &LdapPool, config: &Config) {
    let member_uid = config.groups.as_ref().filter(|g| {
        g.members
            .as_ref()
            .is_some_and(|m| m.value == crate::mapping::MemberValue::RdnValue)
    });
    for map in [Some(&config.users), config.groups.as_ref()]
        .into_iter()
        .flatten()
    {
        for line in check_naming(pool, map, member_uid).await {
            println!("{line}");
        }
    }
}

/// Notes on what a missing control means for clients.
fn print_capability_notes(caps: &Capabilities) {
    if !caps.assertion {
        println!(
            "note: without the Assertion control, If-Match is checked against a read just before the write (not atomic)"
        );
    }
    if !caps.server_side_sort {
        println!(
            "note: without server-side sort, sortBy is refused and ServiceProviderConfig says sort.supported=false"
        );
    }
}

/// Prints the problems, or "ok" when there are none.
fn report(problems: &[String]) -> Result<ExitCode, ExitCode> {
    for p in problems {
        println!("problem: {p}");
    }
    if problems.is_empty() {
        println!("ok");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::config::tests::{SECRETS, Vars, example};

    /// Against a server that knows nothing, check-config names every managed
    /// attribute a setting names, once per setting, and nothing else.
    #[test]
    fn every_managed_attribute_is_checked() {
        for name in [
            "openldap.toml",
            "389ds.toml",
            "posix-openldap.toml",
            "posix-389ds.toml",
        ] {
            let c = Config::parse(&example(name), &Vars(SECRETS.to_vec())).unwrap();
            for map in [Some(&c.users), c.groups.as_ref()].into_iter().flatten() {
                let mut problems = Vec::new();
                check_map(map, &subschema::Subschema::default(), &mut problems);
                let attrs: Vec<&String> = problems
                    .iter()
                    .filter(|p| p.contains("does not exist on this server"))
                    .collect();
                let expected: Vec<String> = map
                    .managed()
                    .into_iter()
                    .filter_map(|m| map.setting(m.role).map(|k| (k, m.ldap)))
                    .map(|(k, a)| format!("{k}: LDAP attribute {a} does not exist on this server"))
                    .collect();
                assert_eq!(attrs.len(), expected.len(), "{problems:#?}");
                for e in &expected {
                    assert!(problems.contains(e), "{e} in {problems:#?}");
                }
                assert!(expected.iter().any(|e| e.contains(".rdn:")));
                assert!(expected.iter().any(|e| e.contains(".id_attribute:")));
                assert_eq!(
                    problems.len() - attrs.len(),
                    map.object_classes.len(),
                    "{problems:#?}"
                );
            }
        }
    }

    /// A computed RDN is described, and entries it would not name the way
    /// they are named are counted with an example.
    #[test]
    fn entries_a_computed_rdn_would_name_otherwise_are_reported() {
        let c = crate::mapping::tests::derived_rdn();
        let entry = |dn: &str, user_name: Option<&str>| {
            Entry::new(
                Dn::parse(dn).unwrap(),
                user_name.map(|u| ("scimUserName".to_owned(), vec![u.to_owned()])),
            )
        };
        let entries = [
            entry(
                "uid=alice,ou=people,dc=example,dc=com",
                Some("Alice@Contoso.com"),
            ),
            entry(
                "uid=Bob@contoso.com,ou=people,dc=example,dc=com",
                Some("bob@contoso.com"),
            ),
            entry("uid=carol,ou=people,dc=example,dc=com", None),
            entry("uid=dan,ou=people,dc=example,dc=com", None),
        ];
        let (note, warnings) = naming_notes(&c.users, None, &entries);
        assert!(
            note.starts_with("users.rdn: uid is computed (users.computed.uid) from userName"),
            "{note}"
        );
        // Groups of member DNs: no memberUid to follow; memberUid groups: said.
        assert!(!note.contains("memberUid"), "{note}");
        let (with_uids, _) = naming_notes(&c.users, c.groups.as_ref(), &entries);
        assert!(
            with_uids.contains("memberUid values in groups follow"),
            "{with_uids}"
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0]
                .contains("2 entries under ou=people,dc=example,dc=com have no scimUserName"),
            "{warnings:?}"
        );
        assert!(warnings[0].contains("e.g. uid=carol,"), "{warnings:?}");
        assert!(
            warnings[1].contains("1 entries under ou=people,dc=example,dc=com are not named"),
            "{warnings:?}"
        );
        assert!(warnings[1].contains("would be uid=bob"), "{warnings:?}");
        // All named as rendered: the note only.
        let (_, warnings) = naming_notes(&c.users, None, &entries[..1]);
        assert!(warnings.is_empty(), "{warnings:?}");
        // A mapped RDN: nothing to say.
        let (note, warnings) =
            naming_notes(&crate::mapping::tests::openldap().users, None, &entries);
        assert!(note.is_empty() && warnings.is_empty());
    }

    /// A template that can render non-ASCII into an IA5String attribute is
    /// named with its key; one piped through `ascii` passes.
    #[test]
    fn non_ascii_templates_into_ia5_attributes_are_problems() {
        let text = example("openldap.toml").replace(
            "[users.defaults]",
            "[users.computed]\ngecos = \"{name.givenName} {name.familyName}\"\nhomeDirectory = \"/home/{userName | ascii | lower}\"\n\n[users.defaults]",
        );
        let c = Config::parse(&text, &Vars(SECRETS.to_vec())).unwrap();
        let defs = [
            "( 1.3.6.1.1.1.1.2 NAME 'gecos' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
            "( 1.3.6.1.1.1.1.3 NAME 'homeDirectory' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
            "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )",
            "( 2.5.4.41 NAME 'name' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
        ]
        .map(str::to_owned);
        let schema = subschema::Subschema {
            ia5: subschema::ia5(&defs),
            ..Default::default()
        };
        assert!(schema.ia5.contains("gecos") && !schema.ia5.contains("cn"));
        let p = syntax_problems(&c.users, &schema);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("users.computed.gecos: "), "{p:?}");
        assert!(p[0].contains("| ascii"), "{p:?}");
    }
}
