//! Shared by the targets: the example OpenLDAP config, compiled once.

use std::sync::OnceLock;

use scim2ldap::config::{Config, Environment};

struct Env;

impl Environment for Env {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "SCIM2LDAP_TOKEN" => Some("fuzz-token-0123456789abcdef".to_owned()),
            "SCIM2LDAP_LDAP_BIND_PASSWORD" => Some("fuzz".to_owned()),
            "SCIM2LDAP_LDAP_URL" => Some("ldap://127.0.0.1:1".to_owned()),
            _ => None,
        }
    }
}

/// `config/openldap.toml`, the mapping Entra's provisioning uses.
pub fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(
        || match Config::parse(include_str!("../../config/openldap.toml"), &Env) {
            Ok(c) => c,
            Err(e) => panic!("config/openldap.toml: {e}"),
        },
    )
}

/// True when the parentheses of an LDAP filter string nest properly. Values
/// are escaped (`\28`, `\29`), so every raw parenthesis is structure: an
/// unbalanced one means client text leaked into the filter unescaped.
#[allow(dead_code)] // not every target uses it
pub fn balanced(ldap_filter: &str) -> bool {
    let mut depth: i64 = 0;
    for b in ldap_filter.bytes() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}
