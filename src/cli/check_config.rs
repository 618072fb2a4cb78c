//! `scim2ldap check-config`: parse, bind, and check every mapped attribute and
//! object class against the server's subschema; report what the server's
//! capabilities mean for this configuration. One line per problem.

use std::process::ExitCode;
use std::sync::Arc;

use crate::config::Config;
use crate::directory::pool::LdapPool;
use crate::directory::{Directory, subschema};
use crate::mapping::AttrMap;
use crate::service::Service;
use crate::telemetry::Metrics;

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

pub async fn run(config: Config) -> Result<ExitCode, ExitCode> {
    for w in &config.warnings {
        println!("warning: {w}");
    }
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
    let caps = pool.capabilities().clone();
    for line in caps.describe() {
        println!("capability: {line}");
    }
    let mut problems = Vec::new();
    match subschema::read(&pool).await {
        Ok(schema) => {
            check_map(&config.users, &schema, &mut problems);
            if let Some(g) = &config.groups {
                check_map(g, &schema, &mut problems);
            }
        }
        Err(e) => problems.push(format!("ldap: cannot read the subschema: {e}")),
    }
    if !caps.password_modify && config.users.password == Some(crate::mapping::PasswordMode::Modify)
    {
        problems.push("users.password: the server lacks the Password Modify extended operation; set users.password = \"attribute\"".to_owned());
    }
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
    let service = Service::new(pool, Arc::new(config), Arc::new(Metrics::default()));
    for base in service.missing_bases().await {
        problems.push(format!(
            "base {base} does not exist or is not readable by the bind DN"
        ));
    }
    for p in &problems {
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
        for name in ["openldap.toml", "389ds.toml"] {
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
