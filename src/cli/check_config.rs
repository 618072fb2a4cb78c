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
    let sec = match map.kind {
        crate::mapping::ResourceKind::User => "users",
        crate::mapping::ResourceKind::Group => "groups",
    };
    for oc in &map.object_classes {
        if !schema.object_classes.contains(&oc.to_ascii_lowercase()) {
            problems.push(format!("{sec}.object_classes: {oc} is not an object class of this server (load config/schema/ or fix the name)"));
        }
    }
    let mut attrs: Vec<(String, String)> = map
        .fields
        .iter()
        .map(|f| (format!("{sec}.attributes.{:?}", f.key), f.ldap.clone()))
        .collect();
    attrs.extend(
        map.defaults
            .iter()
            .map(|(a, _)| (format!("{sec}.defaults.{a}"), a.clone())),
    );
    attrs.push((format!("{sec}.rdn"), map.rdn.clone()));
    attrs.push((format!("{sec}.id_attribute"), map.id_attribute.clone()));
    attrs.push((
        format!("{sec}.version_attribute"),
        map.version_attribute.clone(),
    ));
    if let Some(d) = &map.disable {
        attrs.push((format!("{sec}.disable"), d.attribute.clone()));
    }
    if let Some(m) = &map.member_of {
        attrs.push((format!("{sec}.member_of"), m.clone()));
    }
    for (key, a) in attrs {
        if !schema.attribute_types.contains(&a.to_ascii_lowercase()) {
            problems.push(format!(
                "{key}: LDAP attribute {a} does not exist on this server"
            ));
        }
    }
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
