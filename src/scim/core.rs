//! Core attributes named by their schema URN (RFC 7643 §3: "attributes MAY
//! be referenced by their fully qualified name"). Some clients send the core
//! attributes of a resource inside an object keyed by the core schema URN,
//! `{"urn:ietf:params:scim:schemas:core:2.0:User": {"userName": …}}`; that
//! object means the same as its members at the top level.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::error::Error;

/// `obj` with the members of its `core` URN object (matched
/// case-insensitively) lifted to the top level; borrowed when there is no
/// such object. An attribute given both ways with different values is
/// refused (400 invalidValue naming it); the same value twice is one value.
pub fn lift<'a>(
    obj: &'a Map<String, Value>,
    core: &str,
) -> Result<Cow<'a, Map<String, Value>>, Error> {
    let Some((urn, inner)) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(core)) else {
        return Ok(Cow::Borrowed(obj));
    };
    let inner = match inner {
        Value::Object(o) => o,
        Value::Null => &Map::new(),
        _ => {
            return Err(Error::invalid_value(format!(
                "{urn} must be an object of {core} attributes"
            )));
        }
    };
    let mut out: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| *k != urn)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in inner {
        // `schemas` names the message's schemas, never an attribute.
        if k.eq_ignore_ascii_case("schemas") {
            continue;
        }
        match out.iter().find(|(ok, _)| ok.eq_ignore_ascii_case(k)) {
            Some((_, top)) if top != v => {
                return Err(Error::invalid_value(format!(
                    "{k} is given both at the top level and under {urn}, with different values"
                )));
            }
            Some(_) => {}
            None => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::lift;
    use serde_json::{Value, json};

    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn run(v: Value) -> Result<Value, String> {
        lift(v.as_object().unwrap(), CORE)
            .map(|m| Value::Object(m.into_owned()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn core_urn_objects_mean_the_top_level() {
        let plain = json!({"schemas": [CORE], "userName": "a"});
        assert_eq!(run(plain.clone()), Ok(plain.clone()));
        assert!(matches!(
            lift(plain.as_object().unwrap(), CORE).unwrap(),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            run(
                json!({"schemas": [CORE], "urn:ietf:params:scim:schemas:CORE:2.0:user": {"userName": "a", "emails": [{"value": "a@x"}], "schemas": ["x"]}})
            ),
            Ok(json!({"schemas": [CORE], "userName": "a", "emails": [{"value": "a@x"}]}))
        );
        // Given both ways: the same value is one value, a different one is refused.
        assert_eq!(
            run(json!({"userName": "a", CORE: {"USERNAME": "a", "displayName": "A"}})),
            Ok(json!({"userName": "a", "displayName": "A"}))
        );
        let e = run(json!({"userName": "a", CORE: {"userName": "b"}})).unwrap_err();
        assert!(
            e.contains("userName") && e.contains("different values"),
            "{e}"
        );
        let e = run(json!({CORE: "userName"})).unwrap_err();
        assert!(e.contains("must be an object"), "{e}");
        assert_eq!(
            run(json!({"userName": "a", CORE: null})),
            Ok(json!({"userName": "a"}))
        );
        // Extension objects are left alone.
        let ext = json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "x"}});
        assert_eq!(run(ext.clone()), Ok(ext));
    }
}
