//! Property tests of the pure SCIM parsers: the filter and attribute-path
//! grammars and PATCH bodies, on arbitrary input and on input generated from
//! a small grammar. They never panic, every accepted filter or path prints to
//! text that parses back to the same value, every rejection points inside the
//! input, and every refused PATCH body is a 400.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value as Json, json};

use crate::error::Error;
use crate::scim::filter::{Filter, Limits};
use crate::scim::patch;
use crate::scim::path::{AttrPath, SyntaxError};

/// Moderate: the whole module runs in a few seconds in a debug build. No
/// regression files are written (they would land under src/).
fn config() -> Config {
    Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    }
}

fn check_rejection(input: &str, err: &SyntaxError) -> Result<(), TestCaseError> {
    prop_assert!(err.position <= input.len(), "{input:?}: {err}");
    prop_assert!(input.is_char_boundary(err.position), "{input:?}: {err}");
    prop_assert!(!err.message.is_empty(), "{input:?}");
    Ok(())
}

/// Parses; an accepted filter must print to text that parses back to it.
fn check_filter(input: &str) -> Result<Option<Filter>, TestCaseError> {
    match Filter::parse(input) {
        Ok(f) => {
            let shown = f.to_string();
            let again = Filter::parse(&shown);
            prop_assert_eq!(
                again.as_ref(),
                Ok(&f),
                "{:?} printed as {:?} does not parse back",
                input,
                shown
            );
            // The canonical form is a fixed point.
            prop_assert_eq!(again.map(|g| g.to_string()), Ok(shown));
            Ok(Some(f))
        }
        Err(e) => {
            check_rejection(input, &e)?;
            Ok(None)
        }
    }
}

fn check_path(input: &str) -> Result<Option<AttrPath>, TestCaseError> {
    match AttrPath::parse(input) {
        Ok(p) => {
            let shown = p.to_string();
            let again = AttrPath::parse(&shown);
            prop_assert_eq!(
                again.as_ref(),
                Ok(&p),
                "{:?} printed as {:?} does not parse back",
                input,
                shown
            );
            Ok(Some(p))
        }
        Err(e) => {
            check_rejection(input, &e)?;
            Ok(None)
        }
    }
}

// ---- a small grammar of filters and paths ----

/// Some case mix of a keyword.
fn cased(word: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
        word.chars()
            .zip(upper)
            .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

/// Whitespace between tokens: mostly one space.
fn ws() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(" ".to_owned()),
        1 => "[ \t\r\n]{1,3}",
    ]
}

/// Attribute names, including ones that look like keywords.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        1 => Just("$ref".to_owned()),
        1 => prop::sample::select(vec![
            "not", "and", "or", "pr", "eq", "true", "false", "null", "urn", "value", "type",
        ])
        .prop_map(str::to_owned),
    ]
}

fn schema() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:contactify:2.0:User",
            "URN:example:v1",
        ])
        .prop_map(str::to_owned),
        "urn:[a-z][a-z0-9-]{0,5}(:[a-zA-Z0-9._-]{1,6}){1,3}",
    ]
}

/// `[schema:]name[.sub]`: a path with no value filter.
fn simple_path() -> impl Strategy<Value = String> {
    (
        prop::option::weighted(0.2, schema()),
        name(),
        prop::option::weighted(0.3, name()),
    )
        .prop_map(|(schema, attr, sub)| {
            let mut s = schema.map(|s| format!("{s}:")).unwrap_or_default();
            s.push_str(&attr);
            if let Some(sub) = sub {
                s.push('.');
                s.push_str(&sub);
            }
            s
        })
}

fn string_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        // Anything, JSON-escaped.
        3 => any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        // Filter and LDAP metacharacters, and escapes written by hand.
        2 => prop::collection::vec(
            prop::sample::select(vec![
                "a", "*", "(", ")", "\\\\", "\\\"", "\\u0000", "\\u00e9", "\\ud83d\\ude00", "\\/",
                "\\n", "\\t", "]", "[", " and ", " or ", "é", "😀", ",", "=",
            ]),
            0..8,
        )
        .prop_map(|parts| format!("\"{}\"", parts.concat())),
    ]
}

/// A comparison operator with a value it may take: booleans and null only
/// with `eq` and `ne`.
fn comparison() -> impl Strategy<Value = (String, String)> {
    let number = "-?(0|[1-9][0-9]{0,5})(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,3})?";
    prop_oneof![
        (
            prop::sample::select(vec!["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]),
            prop_oneof![string_literal(), number],
        ),
        (
            prop::sample::select(vec!["eq", "ne"]),
            prop_oneof![cased("true"), cased("false"), cased("null")],
        ),
    ]
    .prop_flat_map(|(op, v)| (cased(op), Just(v)))
}

/// `path pr` or `path op value`, paths without value filters.
fn attr_exp() -> impl Strategy<Value = String> {
    prop_oneof![
        (simple_path(), ws(), cased("pr")).prop_map(|(p, w, pr)| format!("{p}{w}{pr}")),
        (simple_path(), ws(), comparison(), ws())
            .prop_map(|(p, w1, (op, v), w2)| format!("{p}{w1}{op}{w2}{v}")),
    ]
}

/// Filters with no value path (allowed inside brackets).
fn inner_filter() -> impl Strategy<Value = String> {
    attr_exp().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), ws(), cased("and"), ws(), inner.clone())
                .prop_map(|(a, w1, k, w2, b)| format!("{a}{w1}{k}{w2}{b}")),
            (inner.clone(), ws(), cased("or"), ws(), inner.clone())
                .prop_map(|(a, w1, k, w2, b)| format!("{a}{w1}{k}{w2}{b}")),
            (
                cased("not"),
                prop_oneof![Just(String::new()), ws()],
                inner.clone()
            )
                .prop_map(|(k, w, a)| format!("{k}{w}({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

/// `[schema:]name[filter][.sub]`
fn path_with_filter() -> impl Strategy<Value = String> {
    (
        prop::option::weighted(0.2, schema()),
        name(),
        inner_filter(),
        prop::option::of(name()),
    )
        .prop_map(|(schema, attr, f, sub)| {
            let mut s = schema.map(|s| format!("{s}:")).unwrap_or_default();
            s.push_str(&attr);
            s.push('[');
            s.push_str(&f);
            s.push(']');
            if let Some(sub) = sub {
                s.push('.');
                s.push_str(&sub);
            }
            s
        })
}

/// Filters from the whole grammar, value paths included.
fn filter_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => attr_exp(),
        // valuePath: name[filter]
        1 => (name(), inner_filter()).prop_map(|(n, f)| format!("{n}[{f}]")),
        // the lenient `emails[type eq "work"].value eq "x"`
        1 => (name(), inner_filter(), name(), ws(), comparison(), ws())
            .prop_map(|(n, f, sub, w1, (op, v), w2)| format!("{n}[{f}].{sub}{w1}{op}{w2}{v}")),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), ws(), cased("and"), ws(), inner.clone())
                .prop_map(|(a, w1, k, w2, b)| format!("{a}{w1}{k}{w2}{b}")),
            (inner.clone(), ws(), cased("or"), ws(), inner.clone())
                .prop_map(|(a, w1, k, w2, b)| format!("{a}{w1}{k}{w2}{b}")),
            (
                cased("not"),
                prop_oneof![Just(String::new()), ws()],
                inner.clone()
            )
                .prop_map(|(k, w, a)| format!("{k}{w}({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

/// Grammar text with one edit: a byte range cut out, or a token put in.
fn mutated(text: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "(", ")", "[", "]", "\"", "\\", ".", ":", " ", "not", " and ", " or ", "pr", "eq", "urn:",
        "\u{0}", "é", "😀", "\\u", "-", "1e", "$",
    ]);
    (
        text,
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        token,
        any::<bool>(),
    )
        .prop_map(|(s, a, b, token, insert)| {
            let bounds: Vec<usize> = (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect();
            let (x, y) = (a.get(&bounds), b.get(&bounds));
            let (lo, hi) = (*x.min(y), *x.max(y));
            if insert {
                format!("{}{token}{}", &s[..lo], &s[lo..])
            } else {
                format!("{}{}", &s[..lo], &s[hi..])
            }
        })
}

/// Characters the grammars care about, for dense random strings.
fn filterish_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(vec![
                "a", "b", "e", "q", "r", "p", "t", "n", "o", "u", "l", " ", "\t", "(", ")", "[",
                "]", "\"", "\\", ".", ":", "-", "0", "1", "9", "$", "_", "+", "E", "é", "😀",
                "\u{0}", "\u{7f}", "\n",
            ])
            .prop_map(str::to_owned),
            1 => prop::sample::select(vec![
                " eq ", " ne ", " co ", " sw ", " gt ", " pr", " and ", " or ", "not (", "true",
                "false", "null", "urn:ietf:params:scim:schemas:core:2.0:User:", "\\u00", "\\ud83d",
                "emails", "$ref",
            ])
            .prop_map(str::to_owned),
        ],
        0..40,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn filter_parse_is_total_on_arbitrary_strings(input in any::<String>()) {
        check_filter(&input)?;
    }

    #[test]
    fn filter_parse_is_total_on_filterish_strings(input in filterish_string()) {
        check_filter(&input)?;
    }

    #[test]
    fn grammar_filters_are_accepted_and_round_trip(input in filter_text()) {
        let parsed = check_filter(&input)?;
        prop_assert!(
            parsed.is_some(),
            "{:?} is in the grammar but was refused: {}",
            input,
            Filter::parse(&input).unwrap_err()
        );
    }

    #[test]
    fn mutated_grammar_filters_never_panic(input in mutated(filter_text())) {
        check_filter(&input)?;
    }

    /// With a small length limit the over-length rejection is common; its
    /// position must be a character boundary like every other one.
    #[test]
    fn rejections_under_small_limits_point_inside_the_input(
        input in prop_oneof![any::<String>(), "[aé😀 ]{10,40}"],
    ) {
        let limits = Limits { max_len: 16, max_depth: 2 };
        if let Err(e) = Filter::parse_with(&input, limits) {
            check_rejection(&input, &e)?;
        }
        if let Err(e) = AttrPath::parse_with(&input, limits) {
            check_rejection(&input, &e)?;
        }
    }

    #[test]
    fn path_parse_is_total_on_arbitrary_strings(input in any::<String>()) {
        check_path(&input)?;
    }

    #[test]
    fn path_parse_is_total_on_filterish_strings(input in filterish_string()) {
        check_path(&input)?;
    }

    #[test]
    fn grammar_paths_are_accepted_and_round_trip(
        input in prop_oneof![simple_path(), path_with_filter()],
        (before, after) in (ws(), ws()),
    ) {
        let parsed = check_path(&input)?;
        prop_assert!(
            parsed.is_some(),
            "{:?} is in the grammar but was refused: {}",
            input,
            AttrPath::parse(&input).unwrap_err()
        );
        // Surrounding whitespace is ignored.
        prop_assert_eq!(AttrPath::parse(&format!("{before}{input}{after}")).ok(), parsed);
    }

    #[test]
    fn mutated_grammar_paths_never_panic(
        input in mutated(prop_oneof![simple_path(), path_with_filter()])
    ) {
        check_path(&input)?;
    }
}

// ---- PATCH bodies ----

/// Arbitrary JSON of small depth.
fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        any::<String>().prop_map(Json::String),
        json_key().prop_map(Json::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((json_key(), inner), 0..4)
                .prop_map(|kv| Json::Object(kv.into_iter().collect::<Map<String, Json>>())),
        ]
    })
}

/// Keys and strings that mean something to the PATCH parser.
fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "schemas", "Schemas", "Operations", "operations", "op", "OP", "path", "Path", "value",
            "Value", "add", "Add", "replace", "REMOVE", "remove", "members", "value", "display",
            "name.givenName", "emails[type eq \"work\"].value", "userName", "active", "True",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "urn:ietf:params:scim:api:messages:2.0:PatchOp", "", " ", "urn:", "members[value eq \"x\"]",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z.:\\[\\]\" ]{0,12}",
        1 => any::<String>(),
    ]
}

fn path_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => simple_path(),
        2 => path_with_filter(),
        1 => mutated(simple_path()),
        2 => json_key(),
        1 => filterish_string(),
    ]
}

/// One operation object, mostly well-formed.
fn operation() -> impl Strategy<Value = Json> {
    let op = prop_oneof![
        9 => prop_oneof![cased("add"), cased("replace"), cased("remove")].prop_map(Json::String),
        1 => json_value(),
    ];
    let path = prop_oneof![
        8 => path_text().prop_map(Json::String),
        1 => Just(Json::Null),
        1 => json_value(),
    ];
    (
        prop::option::weighted(0.97, op),
        prop::option::weighted(0.85, path),
        prop::option::weighted(0.9, json_value()),
        prop::option::weighted(0.05, (json_key(), json_value())),
    )
        .prop_map(|(op, path, value, extra)| {
            let mut o = Map::new();
            if let Some(op) = op {
                o.insert("op".to_owned(), op);
            }
            if let Some(path) = path {
                o.insert("path".to_owned(), path);
            }
            if let Some(value) = value {
                o.insert("value".to_owned(), value);
            }
            if let Some((k, v)) = extra {
                o.insert(k, v);
            }
            Json::Object(o)
        })
}

/// PatchOp-shaped bodies (so the parser gets past the envelope) and
/// arbitrary JSON.
fn patch_body() -> impl Strategy<Value = Json> {
    prop_oneof![
        1 => json_value(),
        4 => (
            prop::option::weighted(
                0.95,
                prop_oneof![
                    4 => Just(json!([patch::PATCH_OP])),
                    1 => json_value(),
                ],
            ),
            prop_oneof![
                4 => prop::collection::vec(operation(), 1..4).prop_map(Json::Array),
                1 => Just(json!([])),
                1 => json_value(),
            ],
        )
            .prop_map(|(schemas, ops)| {
                let mut o = Map::new();
                if let Some(s) = schemas {
                    o.insert("schemas".to_owned(), s);
                }
                o.insert("Operations".to_owned(), ops);
                Json::Object(o)
            }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn patch_parse_never_panics_and_refuses_with_400(body in patch_body()) {
        match patch::parse(&body) {
            Ok(ops) => {
                for op in &ops {
                    if op.op != patch::Op::Remove {
                        prop_assert!(op.value.is_some(), "{:?} from {}", op, body);
                    }
                    // Every parsed path prints to a path that parses back,
                    // except a bare schema URN kept as written for removal.
                    let shown = op.path.to_string();
                    if !crate::scim::path::is_schema_urn(&shown) {
                        let again = AttrPath::parse(&shown);
                        prop_assert_eq!(again.as_ref(), Ok(&op.path), "{}", body);
                    }
                }
            }
            Err(e) => {
                prop_assert!(
                    matches!(e, Error::BadRequest { .. }),
                    "{} was refused with {:?}, not a 400",
                    body,
                    e
                );
                prop_assert_eq!(e.status().as_u16(), 400);
            }
        }
    }
}
