//! SCIM attribute paths (PATCH `path`, `attributes=`, filter operands):
//! parsing never panics, accepted paths print to text that parses back to
//! the same path, and rejections point inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim2ldap::scim::path::{AttrPath, is_schema_urn};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let _ = is_schema_urn(input);
    match AttrPath::parse(input) {
        Ok(p) => {
            let shown = p.to_string();
            let again = AttrPath::parse(&shown)
                .unwrap_or_else(|e| panic!("{input:?} printed as {shown:?}: {e}"));
            assert_eq!(again, p, "{input:?} printed as {shown:?}");
            assert_eq!(
                again.to_string(),
                shown,
                "display of {input:?} is not stable"
            );
        }
        Err(e) => {
            assert!(e.position <= input.len(), "{input:?}: {e}");
            assert!(input.is_char_boundary(e.position), "{input:?}: {e}");
        }
    }
});
