//! TLS to the directory: `ldaps://` and StartTLS against a slapd with a
//! certificate from a private CA, hostname verification on by default.

use std::path::Path;

use scim2ldap::config::Config;
use scim2ldap::directory::pool::LdapPool;

use super::faults::PrivateSlapd;
use super::{ADMIN_PW, Daemon, Server, ca, issue, unique};

/// A private CA and a certificate for 127.0.0.1 (not for the name localhost).
fn pki(dir: &Path) {
    ca(dir, "ca", "directory-ca");
    issue(dir, "ldap", "directory", 3, "subjectAltName=IP:127.0.0.1");
    ca(dir, "other", "other-ca");
}

fn config(url: &str, extra: &str) -> String {
    super::config_text(Server::OpenLdap)
        .replace("[ldap]", &format!("[ldap]\n{extra}"))
        .replace(
            "url = \"ldap://127.0.0.1:389\"",
            &format!("url = \"{url}\""),
        )
}

async fn pool(text: &str) -> Result<LdapPool, String> {
    struct Env;
    impl scim2ldap::config::Environment for Env {
        fn var(&self, name: &str) -> Option<String> {
            match name {
                "SCIM2LDAP_LDAP_BIND_PASSWORD" => Some(ADMIN_PW.to_owned()),
                "SCIM2LDAP_TOKEN" => Some(super::TOKEN.to_owned()),
                _ => None,
            }
        }
    }
    let c = Config::parse(text, &Env).map_err(|e| e.to_string())?;
    LdapPool::connect(&c.ldap).await.map_err(|e| e.to_string())
}

pub async fn ldaps_and_starttls_with_a_private_ca() {
    let dir = std::env::temp_dir().join(unique("ldaptls"));
    std::fs::create_dir_all(&dir).unwrap();
    pki(&dir);
    let slapd = PrivateSlapd::start();
    let ldaps_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    slapd.enable_tls(
        &dir.join("ca.pem"),
        &dir.join("ldap.pem"),
        &dir.join("ldap.key"),
        ldaps_port,
    );
    let plain_port = slapd
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let ca = dir.join("ca.pem");
    let ca_line = format!("ca_file = \"{}\"", ca.display());

    // ldaps:// with the private CA: the whole daemon works over it.
    let ldaps = format!("ldaps://127.0.0.1:{ldaps_port}");
    let d = Daemon::with_config_at(Server::OpenLdap, &config(&ldaps, &ca_line), &ldaps).await;
    let u = d.create_user(&unique("tls")).await;
    let (s, _) = d
        .call(
            "GET",
            &format!("/Users/{}", u["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 200);

    // StartTLS on ldap://.
    let starttls = format!("ldap://127.0.0.1:{plain_port}");
    assert!(
        pool(&config(&starttls, &format!("{ca_line}\nstarttls = true")))
            .await
            .is_ok()
    );

    // Without the CA (system roots only) the certificate is refused.
    let e = pool(&config(&ldaps, ""))
        .await
        .err()
        .expect("an untrusted certificate must be refused");
    assert!(
        e.to_lowercase().contains("certificate") || e.contains("failed"),
        "{e}"
    );
    // A different CA: refused.
    let other = format!("ca_file = \"{}\"", dir.join("other.pem").display());
    assert!(pool(&config(&ldaps, &other)).await.is_err());
    // The name must match: `localhost` reaches the same server but is not in the certificate.
    let wrong_name = format!("ldaps://localhost:{ldaps_port}");
    assert!(
        pool(&config(&wrong_name, &ca_line)).await.is_err(),
        "hostname verification"
    );
    // Turning verification off works, and says so loudly.
    let text = config(&ldaps, "insecure_skip_verify = true");
    assert!(pool(&text).await.is_ok());
    struct Env;
    impl scim2ldap::config::Environment for Env {
        fn var(&self, name: &str) -> Option<String> {
            (name == "SCIM2LDAP_TOKEN" || name == "SCIM2LDAP_LDAP_BIND_PASSWORD")
                .then(|| super::TOKEN.to_owned())
        }
    }
    let c = Config::parse(&text, &Env).unwrap();
    assert!(
        c.warnings.iter().any(|w| w.contains("NOT verified")),
        "{:?}",
        c.warnings
    );
}
