//! The JSON of a resource as it is read: a tree that borrows its names from
//! the attribute map and its values from the entry, serialised once into
//! [`Rendered`]. Every entry a read returns is rendered, so it allocates only
//! what it must (containers and converted values), where a `serde_json::Value`
//! would own a copy of every name and every value.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::value::RawValue;

/// A JSON value whose names and strings may borrow.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Int(i64),
    /// Finite only: JSON has no NaN or infinity.
    Float(f64),
    Arr(Vec<Json<'a>>),
    Obj(Obj<'a>),
}

impl<'a> Json<'a> {
    pub fn str(s: &'a str) -> Json<'a> {
        Json::Str(Cow::Borrowed(s))
    }

    pub fn owned(s: String) -> Json<'a> {
        Json::Str(Cow::Owned(s))
    }

    /// A finite number, or `None` (JSON cannot carry the others).
    pub fn float(f: f64) -> Option<Json<'a>> {
        f.is_finite().then_some(Json::Float(f))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A boolean, also when written as the string `"true"` or `"false"`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            Json::Str(s) => bool_text(s),
            _ => None,
        }
    }
}

/// `"true"` or `"false"` in any case, as clients write booleans in strings.
pub fn bool_text(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A JSON object: names in the order they were first inserted, each once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Obj<'a>(Vec<(&'a str, Json<'a>)>);

impl<'a> Obj<'a> {
    pub fn new() -> Obj<'a> {
        Obj(Vec::new())
    }

    /// Sets `key`, replacing its value where it is already present.
    pub fn insert(&mut self, key: &'a str, value: Json<'a>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn slot(&mut self, key: &'a str, empty: Json<'a>) -> &mut Json<'a> {
        let i = match self.0.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.0.push((key, empty));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }

    /// The object under `key`, created (or replacing another kind of value)
    /// when there is none.
    pub fn obj_mut(&mut self, key: &'a str) -> Option<&mut Obj<'a>> {
        let slot = self.slot(key, Json::Obj(Obj::new()));
        if !matches!(slot, Json::Obj(_)) {
            *slot = Json::Obj(Obj::new());
        }
        match slot {
            Json::Obj(o) => Some(o),
            _ => None,
        }
    }

    /// The array under `key`, created (or replacing another kind of value)
    /// when there is none.
    pub fn arr_mut(&mut self, key: &'a str) -> Option<&mut Vec<Json<'a>>> {
        let slot = self.slot(key, Json::Arr(Vec::new()));
        if !matches!(slot, Json::Arr(_)) {
            *slot = Json::Arr(Vec::new());
        }
        match slot {
            Json::Arr(a) => Some(a),
            _ => None,
        }
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Str(v) => s.serialize_str(v),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Int(i) => s.serialize_i64(*i),
            Json::Float(f) => s.serialize_f64(*f),
            Json::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Obj(o) => o.serialize(s),
        }
    }
}

impl Serialize for Obj<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A resource serialised once: its JSON text, embedded as it is in the
/// answer (alone, or as one of a list's `Resources`).
#[derive(Debug, Clone)]
pub struct Rendered(Box<RawValue>);

impl Rendered {
    /// Names are strings and numbers finite, so this does not fail in
    /// practice; serde's signature says it could.
    pub fn new(o: &Obj<'_>) -> Result<Rendered, serde_json::Error> {
        serde_json::value::to_raw_value(o).map(Rendered)
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

impl Serialize for Rendered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_as_the_equivalent_value() {
        let text = String::from("borrowed \"text\"");
        let mut o = Obj::new();
        o.insert("s", Json::str(&text));
        o.insert("b", Json::Bool(true));
        o.insert("i", Json::Int(-3));
        o.insert("f", Json::float(1.5).unwrap());
        o.obj_mut("n")
            .unwrap()
            .insert("x", Json::owned("y".to_owned()));
        o.arr_mut("a").unwrap().push(Json::Int(1));
        o.arr_mut("a").unwrap().push(Json::Arr(vec![]));
        let r = Rendered::new(&o).unwrap();
        let v: serde_json::Value = serde_json::from_str(r.get()).unwrap();
        assert_eq!(
            v,
            json!({"s": "borrowed \"text\"", "b": true, "i": -3, "f": 1.5,
                   "n": {"x": "y"}, "a": [1, []]})
        );
        // Names keep their first insertion's place.
        assert!(r.get().starts_with(r#"{"s":"#), "{}", r.get());
        assert_eq!(
            serde_json::to_string(&vec![r.clone(), r.clone()]).unwrap(),
            format!("[{0},{0}]", r.get())
        );
    }

    #[test]
    fn a_name_is_set_once_and_containers_replace_other_values() {
        let mut o = Obj::new();
        o.insert("k", Json::Int(1));
        o.insert("k", Json::Int(2));
        assert_eq!(o.get("k"), Some(&Json::Int(2)));
        assert_eq!(o.0.len(), 1);
        o.obj_mut("k").unwrap().insert("x", Json::Bool(false));
        assert_eq!(
            o.get("k").and_then(|k| match k {
                Json::Obj(inner) => inner.get("x").cloned(),
                _ => None,
            }),
            Some(Json::Bool(false))
        );
        assert_eq!(o.arr_mut("k"), Some(&mut vec![]));
        assert_eq!(o.get("k"), Some(&Json::Arr(vec![])));
        assert_eq!(o.get("absent"), None);
    }

    #[test]
    fn only_finite_numbers_and_boolean_forms() {
        assert_eq!(Json::float(f64::NAN), None);
        assert_eq!(Json::float(f64::INFINITY), None);
        assert_eq!(Json::str("TRUE").as_bool(), Some(true));
        assert_eq!(Json::str("false").as_bool(), Some(false));
        assert_eq!(Json::Bool(true).as_bool(), Some(true));
        assert_eq!(Json::str("yes").as_bool(), None);
        assert_eq!(Json::Int(1).as_bool(), None);
        assert_eq!(Json::Int(1).as_str(), None);
    }
}
