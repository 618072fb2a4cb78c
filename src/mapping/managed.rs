//! The one list of the LDAP attributes a map manages. Reads, write plans,
//! the spelling of written attribute names and `check-config` all walk this
//! list and pick by [`Role`], so a new kind of attribute is added here once
//! and every user has to decide, in an exhaustive `match`, what it does with
//! it — it cannot silently fall out of a diff, a read list or a check.

use super::{AttrMap, CREATED, Field, MODIFIED};

/// Why a map touches an LDAP attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `id_attribute`: the SCIM `id`.
    Id,
    /// `createTimestamp`: `meta.created`.
    Created,
    /// `modifyTimestamp`: `meta.lastModified`.
    Modified,
    /// `version_attribute`: the ETag.
    Version,
    /// A mapped SCIM attribute; the index into [`AttrMap::fields`].
    Field(usize),
    /// The RDN attribute (also the target of the naming field).
    Rdn,
    /// The target of a default template; the index into [`AttrMap::defaults`].
    Default(usize),
    /// The target of a computed template; the index into [`AttrMap::computed`].
    Computed(usize),
    /// The attribute `active=false` is stored in.
    Disable,
    /// The server-maintained `memberOf` style attribute.
    MemberOf,
    /// The writable compare-and-swap token.
    VersionToken,
}

/// One LDAP attribute of a map, as configured, and why it is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Managed<'a> {
    pub ldap: &'a str,
    pub role: Role,
}

/// What a write plans against: read from the current entry into the working
/// copy, diffed, and spelled as configured in the changes.
pub fn planned(role: Role) -> bool {
    match role {
        Role::Field(_) | Role::Default(_) | Role::Computed(_) | Role::Disable => true,
        Role::Id
        | Role::Created
        | Role::Modified
        | Role::Version
        | Role::Rdn
        | Role::MemberOf
        | Role::VersionToken => false,
    }
}

/// What a write that does not plan (a membership-only PATCH) reads to name
/// its entry, answer with its id and guard it by version.
pub fn identifies(role: Role) -> bool {
    match role {
        Role::Id | Role::Version | Role::Rdn | Role::VersionToken => true,
        Role::Created
        | Role::Modified
        | Role::Field(_)
        | Role::Default(_)
        | Role::Computed(_)
        | Role::Disable
        | Role::MemberOf => false,
    }
}

/// Read with a whole entry (defaults and computed values are derived, not
/// read — a field that maps onto one reads it; the RDN is read through its
/// field).
pub fn read(role: Role) -> bool {
    match role {
        Role::Id
        | Role::Created
        | Role::Modified
        | Role::Version
        | Role::Field(_)
        | Role::Disable
        | Role::MemberOf
        | Role::VersionToken => true,
        Role::Rdn | Role::Default(_) | Role::Computed(_) => false,
    }
}

impl AttrMap {
    /// Every LDAP attribute this map manages, in a stable order: the
    /// bookkeeping a read needs first, then the mapped fields, the RDN, the
    /// default and computed templates' targets, the disable attribute, memberOf and the
    /// version token. An attribute may appear under several roles.
    pub fn managed(&self) -> Vec<Managed<'_>> {
        let mut out = vec![
            Managed {
                ldap: &self.id_attribute,
                role: Role::Id,
            },
            Managed {
                ldap: CREATED,
                role: Role::Created,
            },
            Managed {
                ldap: MODIFIED,
                role: Role::Modified,
            },
            Managed {
                ldap: &self.version_attribute,
                role: Role::Version,
            },
        ];
        out.extend(self.fields.iter().enumerate().map(|(i, f)| Managed {
            ldap: &f.ldap,
            role: Role::Field(i),
        }));
        out.push(Managed {
            ldap: &self.rdn,
            role: Role::Rdn,
        });
        out.extend(self.defaults.iter().enumerate().map(|(i, (a, _))| Managed {
            ldap: a,
            role: Role::Default(i),
        }));
        out.extend(self.computed.iter().enumerate().map(|(i, (a, _))| Managed {
            ldap: a,
            role: Role::Computed(i),
        }));
        out.extend(self.disable.iter().map(|d| Managed {
            ldap: &d.attribute,
            role: Role::Disable,
        }));
        out.extend(self.member_of.iter().map(|m| Managed {
            ldap: m,
            role: Role::MemberOf,
        }));
        out.extend(self.version_token.iter().map(|t| Managed {
            ldap: t,
            role: Role::VersionToken,
        }));
        out
    }

    /// The read attributes whose field passes `wanted`, once each.
    pub(crate) fn read_list(&self, wanted: impl Fn(&Field) -> bool) -> Vec<String> {
        let names = self
            .managed()
            .into_iter()
            .filter(|m| read(m.role))
            .filter(|m| match m.role {
                Role::Field(i) => wanted(&self.fields[i]),
                _ => true,
            })
            .map(|m| m.ldap.to_owned())
            .collect();
        super::dedup_ci(names)
    }

    /// The setting that names a managed attribute, as `check-config` reports
    /// it (`users.attributes."title"`); `None` for the operational
    /// timestamps, which no setting names and every server has.
    pub fn setting(&self, role: Role) -> Option<String> {
        let sec = super::section(self.kind);
        match role {
            Role::Created | Role::Modified => None,
            Role::Id => Some(format!("{sec}.id_attribute")),
            Role::Version => Some(format!("{sec}.version_attribute")),
            Role::Field(i) => Some(format!("{sec}.attributes.{:?}", self.fields[i].key)),
            Role::Rdn => Some(format!("{sec}.rdn")),
            Role::Default(i) => Some(format!("{sec}.defaults.{}", self.defaults[i].0)),
            Role::Computed(i) => Some(format!("{sec}.computed.{}", self.computed[i].0)),
            Role::Disable => Some(format!("{sec}.disable")),
            Role::MemberOf => Some(format!("{sec}.member_of")),
            Role::VersionToken => Some(format!("{sec}.version_token")),
        }
    }

    /// The configured spelling of a planned LDAP attribute known by its
    /// lower-case key (a field's spelling wins over a default's).
    pub fn ldap_name(&self, key: &str) -> String {
        self.managed()
            .into_iter()
            .filter(|m| planned(m.role))
            .find(|m| m.ldap.eq_ignore_ascii_case(key))
            .map_or(key, |m| m.ldap)
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::config::Config;
    use crate::config::tests::{SECRETS, Vars, example};

    fn maps() -> Vec<AttrMap> {
        let mut out = Vec::new();
        for name in [
            "openldap.toml",
            "389ds.toml",
            "posix-openldap.toml",
            "posix-389ds.toml",
        ] {
            let c = Config::parse(&example(name), &Vars(SECRETS.to_vec())).unwrap();
            out.push(c.users);
            out.extend(c.groups);
        }
        out
    }

    fn has(list: &[String], a: &str) -> bool {
        list.iter().any(|x| x.eq_ignore_ascii_case(a))
    }

    #[test]
    fn reads_are_the_read_roles_of_the_list() {
        for map in maps() {
            let managed = map.managed();
            let reads = map.read_attributes();
            for m in &managed {
                let read_somehow = managed
                    .iter()
                    .any(|o| o.ldap.eq_ignore_ascii_case(m.ldap) && read(o.role));
                assert_eq!(has(&reads, m.ldap), read_somehow, "{:?} {:?}", map.kind, m);
            }
            assert!(reads.iter().all(|r| managed.iter().any(|m| m.ldap == r)));
            let generated = map.generated_attributes();
            assert!(generated.iter().all(|g| has(&reads, g)));
            for m in managed.iter().filter(|m| read(m.role)) {
                if !matches!(m.role, Role::Field(_)) {
                    assert!(has(&generated, m.ldap), "{m:?}");
                }
            }
        }
    }

    #[test]
    fn every_planned_attribute_is_spelled_as_configured() {
        for map in maps() {
            for m in map.managed().into_iter().filter(|m| planned(m.role)) {
                let spelled = map.ldap_name(&m.ldap.to_ascii_lowercase());
                assert!(spelled.eq_ignore_ascii_case(m.ldap), "{m:?}");
                // Not a lower-cased echo: the configured spelling comes back.
                let first = map
                    .managed()
                    .into_iter()
                    .find(|o| planned(o.role) && o.ldap.eq_ignore_ascii_case(m.ldap))
                    .unwrap();
                assert_eq!(spelled, first.ldap);
            }
            assert_eq!(map.ldap_name("notmanaged"), "notmanaged");
        }
    }

    #[test]
    fn the_list_covers_every_setting_that_names_an_attribute() {
        for map in maps() {
            let managed = map.managed();
            let role = |r: Role| managed.iter().filter(|m| m.role == r).count();
            assert_eq!(role(Role::Id), 1);
            assert_eq!(role(Role::Version), 1);
            assert_eq!(role(Role::Rdn), 1);
            assert_eq!(role(Role::Disable), map.disable.len());
            assert_eq!(role(Role::MemberOf), usize::from(map.member_of.is_some()));
            assert_eq!(
                role(Role::VersionToken),
                usize::from(map.version_token.is_some())
            );
            for i in 0..map.fields.len() {
                assert_eq!(role(Role::Field(i)), 1);
            }
            for i in 0..map.defaults.len() {
                assert_eq!(role(Role::Default(i)), 1);
            }
            for i in 0..map.computed.len() {
                assert_eq!(role(Role::Computed(i)), 1);
            }
            let with_setting = managed.iter().filter(|m| map.setting(m.role).is_some());
            assert_eq!(
                with_setting.count(),
                managed.len() - 2,
                "all but the timestamps"
            );
        }
    }
}
