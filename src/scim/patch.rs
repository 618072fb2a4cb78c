//! PATCH request bodies (RFC 7644 §3.5.2) parsed into typed operations.
//!
//! Every quirk of Microsoft Entra's provisioning service is normalised here and
//! nowhere else: operation names in any case (`Add`, `Replace`, `REMOVE`),
//! booleans sent as the strings `"True"`/`"False"`, and operations without a
//! `path` whose value object carries dotted or URN-qualified keys
//! (`{"name.givenName": …, "urn:…:enterprise:2.0:User:department": …}`), which
//! are expanded into one operation per key.

use serde_json::{Map, Value};

use crate::error::{Error, ScimType};
use crate::scim::path::{self, AttrPath};

/// The PatchOp message schema.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Operation kinds (RFC 7644 §3.5.2.1–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

/// One operation. After parsing, `path` is always set: path-less operations
/// have been expanded per key of their value.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: Op,
    pub path: AttrPath,
    pub value: Option<Value>,
}

fn syntax(detail: impl Into<String>) -> Error {
    Error::bad(ScimType::InvalidSyntax, detail)
}

fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Parses a PatchOp body into operations: the RFC 7644 §3.5.2 checks and
/// Entra's variants, in the order a body is read.
pub fn parse(body: &Value) -> Result<Vec<Operation>, Error> {
    let ops = operations(body)?;
    let mut out = Vec::new();
    for (i, raw) in ops.iter().enumerate() {
        let at = format!("Operations[{i}]");
        let o = raw
            .as_object()
            .ok_or_else(|| syntax(format!("{at} must be an object")))?;
        check_operation_keys(o, &at)?;
        let op = op_kind(o, &at)?;
        let value = get_ci(o, "value").cloned();
        let path_text = path_text(o, &at)?;
        push_operation(op, path_text, value, &at, &mut out)?;
    }
    Ok(out)
}

/// The message envelope: a PatchOp object with a non-empty `Operations` list
/// and no other attributes.
fn operations(body: &Value) -> Result<&Vec<Value>, Error> {
    let obj = body
        .as_object()
        .ok_or_else(|| syntax("a PATCH body must be a JSON object"))?;
    let schemas = get_ci(obj, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| {
        s.iter()
            .any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP)))
    }) {
        return Err(syntax(format!("schemas must contain {PATCH_OP}")));
    }
    for k in obj.keys() {
        if !k.eq_ignore_ascii_case("schemas") && !k.eq_ignore_ascii_case("Operations") {
            return Err(syntax(format!(
                "{k} is not a PatchOp attribute (expected schemas, Operations)"
            )));
        }
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| syntax("Operations must be a list of operations"))?;
    if ops.is_empty() {
        return Err(syntax("Operations is empty"));
    }
    Ok(ops)
}

/// Refuses an operation attribute other than `op`, `path` and `value`.
fn check_operation_keys(o: &Map<String, Value>, at: &str) -> Result<(), Error> {
    for k in o.keys() {
        if !["op", "path", "value"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(k))
        {
            return Err(syntax(format!(
                "{at}.{k} is not an operation attribute (expected op, path, value)"
            )));
        }
    }
    Ok(())
}

/// The operation's kind, its name in any case (Entra sends `Add`, `Replace`).
fn op_kind(o: &Map<String, Value>, at: &str) -> Result<Op, Error> {
    match get_ci(o, "op").and_then(Value::as_str) {
        Some(s) if s.eq_ignore_ascii_case("add") => Ok(Op::Add),
        Some(s) if s.eq_ignore_ascii_case("replace") => Ok(Op::Replace),
        Some(s) if s.eq_ignore_ascii_case("remove") => Ok(Op::Remove),
        Some(s) => Err(syntax(format!(
            "{at}.op {s:?} is not add, replace or remove"
        ))),
        None => Err(syntax(format!("{at}.op is missing"))),
    }
}

/// The operation's `path` text; absent, null or blank all mean no path.
fn path_text<'a>(o: &'a Map<String, Value>, at: &str) -> Result<Option<&'a str>, Error> {
    match get_ci(o, "path") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(Error::bad(
            ScimType::InvalidPath,
            format!("{at}.path must be a string"),
        )),
    }
}

/// Adds one read operation to `out`: as it is where its path names an
/// attribute, expanded per key where it has no path or names an extension.
fn push_operation(
    op: Op,
    path_text: Option<&str>,
    value: Option<Value>,
    at: &str,
    out: &mut Vec<Operation>,
) -> Result<(), Error> {
    match (op, path_text) {
        (Op::Remove, None) => Err(Error::bad(
            ScimType::NoTarget,
            format!("{at}: remove needs a path (RFC 7644 §3.5.2.2)"),
        )),
        (Op::Remove, Some(p)) if path::is_schema_urn(p) => {
            // Removing an extension removes all of its attributes.
            out.push(Operation {
                op,
                path: AttrPath::simple(p.trim()),
                value: None,
            });
            Ok(())
        }
        (_, Some(p)) if path::is_schema_urn(p) => {
            // A path naming an extension schema: its value holds that schema's attributes.
            let v =
                value.ok_or_else(|| Error::invalid_value(format!("{at}: {op:?} needs a value")))?;
            expand(op, Some(p), &v, at, out)
        }
        (_, Some(p)) => {
            let path = AttrPath::parse(p)
                .map_err(|e| Error::bad(ScimType::InvalidPath, format!("{at}.path {p:?}: {e}")))?;
            if op != Op::Remove && value.is_none() {
                return Err(Error::invalid_value(format!(
                    "{at}: {op:?} of {p} needs a value"
                )));
            }
            out.push(Operation { op, path, value });
            Ok(())
        }
        (_, None) => {
            let v = value.ok_or_else(|| {
                Error::invalid_value(format!("{at}: {op:?} without a path needs a value"))
            })?;
            same_both_ways(&v)?;
            expand(op, None, &v, at, out)
        }
    }
}

/// A path-less value may hold core attributes under the core schema URN
/// (expanded to URN-qualified paths below); the same attribute given there
/// and at the top level with different values is refused.
fn same_both_ways(v: &Value) -> Result<(), Error> {
    let Some(obj) = v.as_object() else {
        return Ok(());
    };
    for k in obj.keys().filter(|k| is_core_urn(k)) {
        crate::scim::core::lift(obj, k)?;
    }
    Ok(())
}

/// The core schema URNs of RFC 7643 §4 (User, Group).
fn is_core_urn(k: &str) -> bool {
    [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
    ]
    .iter()
    .any(|u| u.eq_ignore_ascii_case(k))
}

/// Expands a value object into one operation per key (RFC 7644 §3.5.2.1: "the
/// value MUST be a complex attribute whose sub-attributes are the attributes to
/// change"). Keys may be dotted (`name.givenName`) or URN-qualified; a key that
/// is itself an extension URN holds that extension's attributes.
fn expand(
    op: Op,
    schema: Option<&str>,
    v: &Value,
    at: &str,
    out: &mut Vec<Operation>,
) -> Result<(), Error> {
    let obj = v.as_object().ok_or_else(|| {
        Error::invalid_value(format!(
            "{at}: without a path the value must be an object of attributes"
        ))
    })?;
    for (k, val) in obj {
        // `schemas` names the message's schemas, never an attribute (some
        // clients repeat it inside an extension's value object).
        if k.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if schema.is_none() && path::is_schema_urn(k) {
            expand(op, Some(k), val, at, out)?;
            continue;
        }
        let text = match schema {
            Some(s) => format!("{s}:{k}"),
            None => k.clone(),
        };
        let path = AttrPath::parse(&text)
            .map_err(|e| Error::bad(ScimType::InvalidPath, format!("{at}: key {k:?}: {e}")))?;
        out.push(Operation {
            op,
            path,
            value: Some(val.clone()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP], "Operations": ops})
    }

    #[test]
    fn core_attributes_under_the_core_urn() {
        let core = "urn:ietf:params:scim:schemas:core:2.0:User";
        let ops = parse(&body(json!([
            {"op": "replace", "value": {core: {"displayName": "D", "name": {"givenName": "G"}}, "title": "T"}}
        ])))
        .unwrap();
        let paths: Vec<String> = ops.iter().map(|o| o.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "title".to_owned(),
                format!("{core}:displayName"),
                format!("{core}:name"),
            ]
        );
        // The same value both ways is fine; a different one is refused, named.
        assert!(
            parse(&body(
                json!([{"op": "add", "value": {"title": "T", core: {"title": "T"}}}])
            ))
            .is_ok()
        );
        let e = parse(&body(
            json!([{"op": "add", "value": {"title": "T", core: {"TITLE": "U"}}}]),
        ))
        .unwrap_err();
        assert!(
            matches!(&e, Error::BadRequest { scim_type: ScimType::InvalidValue, detail } if detail.contains("TITLE")),
            "{e}"
        );
    }

    #[test]
    fn entra_forms_parse() {
        let cases: Vec<(Value, Vec<(Op, &str)>)> = vec![
            (
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
                vec![(Op::Replace, "active")],
            ),
            (
                json!([{"op": "replace", "path": "userName", "value": "x"}]),
                vec![(Op::Replace, "userName")],
            ),
            (
                json!([{"op": "REMOVE", "path": "emails[type eq \"work\"].value"}]),
                vec![(Op::Remove, "emails[type eq \"work\"].value")],
            ),
            (
                json!([{"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "1"}]),
                vec![(Op::Add, "addresses[type eq \"work\"].postalCode")],
            ),
            (
                json!([{"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "Admin"}]),
                vec![(Op::Add, "roles[primary eq \"True\"].value")],
            ),
            (
                json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "26118915-6090-4610-87e4-49d8ca9f808d"}]),
                vec![(
                    Op::Replace,
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                )],
            ),
            (
                json!([{"op": "Replace", "value": {"displayName": "D", "name.givenName": "G", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7"}}]),
                vec![
                    (Op::Replace, "displayName"),
                    (Op::Replace, "name.givenName"),
                    (
                        Op::Replace,
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                    ),
                ],
            ),
            (
                json!([{"op": "add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "X"}}}]),
                vec![(
                    Op::Add,
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                )],
            ),
            (
                json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"department": "X"}}]),
                vec![(
                    Op::Add,
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                )],
            ),
            (
                json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "a"}]}]),
                vec![(Op::Add, "members")],
            ),
            (
                json!([{"op": "remove", "path": "members[value eq \"a\"]"}]),
                vec![(Op::Remove, "members[value eq \"a\"]")],
            ),
            (
                json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
                vec![(
                    Op::Remove,
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                )],
            ),
        ];
        for (ops, want) in cases {
            let got = parse(&body(ops.clone())).unwrap();
            let got: Vec<(Op, String)> = got.iter().map(|o| (o.op, o.path.to_string())).collect();
            let want: Vec<(Op, String)> = want
                .iter()
                .map(|(o, p)| (*o, AttrPath::parse(p).unwrap().to_string()))
                .collect();
            assert_eq!(got, want, "{ops}");
        }
    }

    #[test]
    fn rejections_name_the_problem() {
        let cases = [
            (
                json!({"Operations": []}),
                ScimType::InvalidSyntax,
                "schemas",
            ),
            (body(json!([])), ScimType::InvalidSyntax, "empty"),
            (
                body(json!([{"op": "move", "path": "a"}])),
                ScimType::InvalidSyntax,
                "\"move\"",
            ),
            (
                body(json!([{"path": "a"}])),
                ScimType::InvalidSyntax,
                "op is missing",
            ),
            (
                body(json!([{"op": "remove"}])),
                ScimType::NoTarget,
                "needs a path",
            ),
            (
                body(json!([{"op": "add", "path": "emails[type eq"}])),
                ScimType::InvalidPath,
                "Operations[0].path",
            ),
            (
                body(json!([{"op": "add", "path": "title"}])),
                ScimType::InvalidValue,
                "needs a value",
            ),
            (
                body(json!([{"op": "replace", "value": "x"}])),
                ScimType::InvalidValue,
                "object of attributes",
            ),
            (
                body(json!([{"op": "add", "path": "a", "value": 1, "extra": 2}])),
                ScimType::InvalidSyntax,
                "extra",
            ),
            (
                json!({"schemas": [PATCH_OP], "Operations": "x"}),
                ScimType::InvalidSyntax,
                "list",
            ),
        ];
        for (b, t, needle) in cases {
            match parse(&b) {
                Err(Error::BadRequest { scim_type, detail }) => {
                    assert_eq!(scim_type, t, "{b}: {detail}");
                    assert!(detail.contains(needle), "{b}: {detail}");
                }
                other => panic!("{b}: {other:?}"),
            }
        }
    }
}
