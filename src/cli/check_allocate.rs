//! `check-config` for `[users.allocate]` / `[groups.allocate]`: the schema
//! has the allocated attributes (and `posixAccount` / `posixGroup` where
//! `uidNumber` / `gidNumber` are allocated), the counter entry exists, the
//! range does not meet numbers held by entries the daemon does not manage,
//! and the directory enforces uniqueness of the allocated attribute.
//!
//! "Not managed": an entry under the base that lacks one of the map's
//! `object_classes` (the daemon never created it and never lists it). Numbers
//! of such entries inside the range are skipped when allocating, but they
//! mean another tool hands out numbers from the same range.
//!
//! Uniqueness is read where the bind DN may read it: 389-ds's attribute
//! uniqueness plugin entries under `cn=plugins,cn=config`, OpenLDAP's
//! `olcUniqueURI` under `cn=config`. Where neither is readable it says it
//! cannot tell; that is never a problem by itself. These reads, like the
//! rootDSE and subschema, are the only ones outside the configured bases.

use crate::config::Config;
use crate::directory::pool::LdapPool;
use crate::directory::{Directory, Scope, Search, subschema::Subschema};
use crate::ldap::{Entry, Filter};
use crate::mapping::AttrMap;
use crate::mapping::allocate::{Allocation, Range, Strategy, parse_number};

/// What the checks found: problems fail `check-config`, notes are printed.
#[derive(Debug, Default)]
pub struct Findings {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

/// The object class an allocated POSIX attribute needs.
fn posix_class(attr: &str) -> Option<&'static str> {
    match attr.to_ascii_lowercase().as_str() {
        "uidnumber" => Some("posixAccount"),
        "gidnumber" => Some("posixGroup"),
        _ => None,
    }
}

/// Schema problems of one map's allocations (pure, unit-tested).
pub fn schema_problems(map: &AttrMap, schema: &Subschema) -> Vec<String> {
    let mut out = Vec::new();
    for a in &map.allocate {
        if !schema
            .attribute_types
            .contains(&a.attribute.to_ascii_lowercase())
        {
            out.push(format!(
                "{}: LDAP attribute {} does not exist on this server (load the nis or rfc2307bis schema)",
                a.key, a.attribute
            ));
        }
        if let Strategy::Counter { attribute, .. } = &a.strategy {
            if !schema
                .attribute_types
                .contains(&attribute.to_ascii_lowercase())
            {
                out.push(format!(
                    "{}.counter_attribute: LDAP attribute {attribute} does not exist on this server",
                    a.key
                ));
            }
        }
        if let Some(oc) = posix_class(&a.attribute) {
            if !schema.object_classes.contains(&oc.to_ascii_lowercase()) {
                out.push(format!(
                    "{}: the server has no object class {oc}, so Linux clients (SSSD, nslcd) will not see these entries as accounts; load the nis or rfc2307bis schema",
                    a.key
                ));
            }
        }
    }
    out
}

/// Numbers in `range` among `entries`, and those held by entries lacking
/// one of `object_classes` (not managed): (all, not managed) as sorted lists.
pub fn numbers_in_range(
    entries: &[Entry],
    attr: &str,
    range: Range,
    object_classes: &[String],
) -> (Vec<u64>, Vec<u64>) {
    let mut all = Vec::new();
    let mut foreign = Vec::new();
    for e in entries {
        let managed = object_classes.iter().all(|oc| {
            e.values("objectClass")
                .iter()
                .any(|v| v.eq_ignore_ascii_case(oc))
        });
        for n in e.values(attr).iter().filter_map(|v| parse_number(v)) {
            if range.contains(n) {
                all.push(n);
                if !managed {
                    foreign.push(n);
                }
            }
        }
    }
    all.sort_unstable();
    foreign.sort_unstable();
    (all, foreign)
}

/// "3 numbers (lowest 200001, highest 250000)".
fn describe(ns: &[u64]) -> String {
    match (ns.first(), ns.last()) {
        (Some(lo), Some(hi)) => format!("{} number(s) (lowest {lo}, highest {hi})", ns.len()),
        _ => "no numbers".to_owned(),
    }
}

fn search(base: &str, scope: Scope, filter: Filter, attrs: &[&str]) -> Search {
    Search {
        base: base.to_owned(),
        scope,
        filter,
        attrs: attrs.iter().map(|a| (*a).to_owned()).collect(),
    }
}

/// Every check of every allocation of the configuration.
pub async fn check(pool: &LdapPool, config: &Config, schema: Option<&Subschema>) -> Findings {
    let mut f = Findings::default();
    for map in [Some(&config.users), config.groups.as_ref()]
        .into_iter()
        .flatten()
    {
        if let Some(schema) = schema {
            f.problems.extend(schema_problems(map, schema));
        }
        for a in &map.allocate {
            if let Some(range) = a.strategy.range() {
                in_use(pool, map, a, range, &mut f).await;
            }
            if let Strategy::Counter { counter, .. } = &a.strategy {
                let found = pool
                    .search(search(
                        &counter.to_string(),
                        Scope::Base,
                        Filter::everything(),
                        &["1.1"],
                    ))
                    .await;
                if !matches!(found, Ok(ref v) if !v.is_empty()) {
                    f.problems.push(format!(
                        "{}.counter: the counter entry {counter} does not exist or is not readable by the bind DN; create it (see the README)",
                        a.key
                    ));
                }
            }
            if !matches!(a.strategy, Strategy::Same { .. }) {
                uniqueness(pool, a, &mut f).await;
            }
        }
    }
    f
}

/// Numbers of the range already held under the base.
async fn in_use(pool: &LdapPool, map: &AttrMap, a: &Allocation, range: Range, f: &mut Findings) {
    let found = pool
        .search(search(
            &map.base.to_string(),
            Scope::Subtree,
            Filter::Present(a.attribute.clone()),
            &[&a.attribute, "objectClass"],
        ))
        .await;
    let entries = match found {
        Ok(e) => e,
        Err(e) => {
            f.warnings.push(format!(
                "{}.range: could not read which numbers are in use under {}: {e}",
                a.key, map.base
            ));
            return;
        }
    };
    let (all, foreign) = numbers_in_range(&entries, &a.attribute, range, &map.object_classes);
    if !foreign.is_empty() {
        f.warnings.push(format!(
            "{}.range: {range} overlaps {} held by entries under {} that the daemon does not manage (they lack one of {}); allocation passes over them, but another tool seems to hand out numbers from this range",
            a.key,
            describe(&foreign),
            map.base,
            map.object_classes.join(", ")
        ));
    }
    f.notes.push(format!(
        "{}: {} of {} in {range} in use under {}",
        a.key,
        describe(&all),
        range.size(),
        map.base
    ));
}

/// Whether the directory keeps the allocated attribute unique, as far as
/// the bind DN can read its configuration.
async fn uniqueness(pool: &LdapPool, a: &Allocation, f: &mut Findings) {
    let attr = a.attribute.to_ascii_lowercase();
    // 389-ds: attribute uniqueness plugin instances (new and old style).
    let ds = pool
        .search(search(
            "cn=plugins,cn=config",
            Scope::One,
            Filter::Equal(
                "nsslapd-pluginPath".to_owned(),
                "libattr-unique-plugin".to_owned(),
            ),
            &[
                "nsslapd-pluginEnabled",
                "uniqueness-attribute-name",
                "nsslapd-pluginarg0",
            ],
        ))
        .await;
    if let Ok(plugins) = ds {
        if !plugins.is_empty() {
            let enforced = plugins.iter().any(|p| {
                p.first("nsslapd-pluginEnabled")
                    .is_some_and(|v| v.eq_ignore_ascii_case("on"))
                    && p.values("uniqueness-attribute-name")
                        .iter()
                        .chain(p.values("nsslapd-pluginarg0"))
                        .any(|v| v.eq_ignore_ascii_case(&attr))
            });
            if enforced {
                f.notes.push(format!(
                    "{}: the directory keeps {} unique (389-ds attribute uniqueness plugin)",
                    a.key, a.attribute
                ));
            } else {
                f.warnings.push(format!(
                    "{}: no enabled attribute uniqueness plugin covers {} (cn=plugins,cn=config); two daemon instances or replicas could hand out the same number; see the README",
                    a.key, a.attribute
                ));
            }
            return;
        }
    }
    // OpenLDAP with cn=config readable: slapo-unique's URIs.
    let ol = pool
        .search(search(
            "cn=config",
            Scope::Subtree,
            Filter::Present("olcUniqueURI".to_owned()),
            &["olcUniqueURI"],
        ))
        .await;
    match ol {
        Ok(overlays) if !overlays.is_empty() => {
            let enforced = overlays.iter().any(|o| {
                o.values("olcUniqueURI")
                    .iter()
                    .any(|u| u.to_ascii_lowercase().contains(&format!("?{attr}")))
            });
            if enforced {
                f.notes.push(format!(
                    "{}: the directory keeps {} unique (OpenLDAP unique overlay)",
                    a.key, a.attribute
                ));
            } else {
                f.warnings.push(format!(
                    "{}: the unique overlay does not cover {} (olcUniqueURI); two daemon instances could hand out the same number; see the README",
                    a.key, a.attribute
                ));
            }
        }
        _ => f.notes.push(format!(
            "{}: cannot tell whether the directory keeps {} unique (its configuration is not readable by the bind DN); enable OpenLDAP's unique overlay or 389-ds's attribute uniqueness plugin for it",
            a.key, a.attribute
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::config::tests::{SECRETS, Vars, example};
    use crate::ldap::Dn;

    fn config() -> Config {
        let text = example("openldap.toml")
            .replace(
                "[users.defaults]",
                "[users.allocate]\nuidNumber = { strategy = \"deterministic\", from = \"{externalId}\", range = [1000, 1999] }\n\n[users.defaults]",
            )
            .replace(
                "[groups.members]",
                "[groups.allocate]\ngidNumber = { strategy = \"counter\", counter = \"cn=next,ou=groups,dc=example,dc=com\", counter_attribute = \"serialNumber\", range = [5000, 5999] }\n\n[groups.members]",
            );
        Config::parse(&text, &Vars(SECRETS.to_vec())).unwrap()
    }

    #[test]
    fn a_schema_without_posix_names_each_key() {
        let c = config();
        let p = schema_problems(&c.users, &Subschema::default());
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("users.allocate.uidNumber: LDAP attribute uidNumber does not exist")
        );
        assert!(
            p[1].starts_with(
                "users.allocate.uidNumber: the server has no object class posixAccount"
            )
        );
        let g = schema_problems(c.groups.as_ref().unwrap(), &Subschema::default());
        assert_eq!(g.len(), 3, "{g:?}");
        assert!(g[1].starts_with(
            "groups.allocate.gidNumber.counter_attribute: LDAP attribute serialNumber"
        ));
        assert!(g[2].contains("posixGroup"));
        let full = Subschema {
            attribute_types: ["uidnumber", "gidnumber", "serialnumber"]
                .map(str::to_owned)
                .into(),
            object_classes: ["posixaccount", "posixgroup"].map(str::to_owned).into(),
            ..Default::default()
        };
        assert!(schema_problems(&c.users, &full).is_empty());
        assert!(schema_problems(c.groups.as_ref().unwrap(), &full).is_empty());
    }

    #[test]
    fn numbers_in_range_tell_managed_from_foreign_entries() {
        let e = |dn: &str, ocs: &[&str], n: &str| {
            Entry::new(
                Dn::parse(dn).unwrap(),
                [
                    (
                        "objectClass".to_owned(),
                        ocs.iter().map(|s| (*s).to_owned()).collect(),
                    ),
                    ("uidNumber".to_owned(), vec![n.to_owned()]),
                ],
            )
        };
        let ocs = vec!["inetOrgPerson".to_owned(), "posixAccount".to_owned()];
        let entries = [
            e(
                "uid=a,ou=p",
                &["inetOrgPerson", "posixAccount", "top"],
                "1500",
            ),
            e("uid=b,ou=p", &["account", "posixAccount"], "1200"),
            e("uid=c,ou=p", &["account", "posixAccount"], "999"),
            e("uid=d,ou=p", &["INETORGPERSON", "posixaccount"], "1999"),
            e("uid=e,ou=p", &["account"], "not a number"),
        ];
        let (all, foreign) = numbers_in_range(
            &entries,
            "uidNumber",
            Range {
                min: 1000,
                max: 1999,
            },
            &ocs,
        );
        assert_eq!(all, [1200, 1500, 1999]);
        assert_eq!(foreign, [1200]);
        assert_eq!(
            describe(&foreign),
            "1 number(s) (lowest 1200, highest 1200)"
        );
        assert_eq!(describe(&[]), "no numbers");
    }
}
