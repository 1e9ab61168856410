//! A serde `Deserializer` over [`Node`]. Each error it (or a visitor) raises is tagged with the
//! position of the node being deserialized — for unknown fields, the key — so serde's own
//! messages ("unknown field `x`, expected one of …", "missing field `y`", "invalid type: …")
//! come out with a line and column.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::node::{Mark, Node, NodeKind, Scalar};

#[derive(Debug)]
pub(crate) struct DeError {
    pub message: String,
    pub mark: Option<Mark>,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            mark: None,
        }
    }
}

/// Deserializes a typed value from a node.
pub(crate) fn from_node<T: de::DeserializeOwned>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDe(node))
}

/// What a plain scalar means under the YAML 1.2 core schema.
#[derive(Debug, PartialEq)]
enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str,
}

fn resolve(s: &Scalar) -> Resolved {
    if !s.plain {
        return Resolved::Str;
    }
    let t = s.text.as_str();
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = t.strip_prefix("0x") {
        if let Ok(v) = u64::from_str_radix(hex, 16) {
            return Resolved::UInt(v);
        }
        return Resolved::Str;
    }
    if let Some(oct) = t.strip_prefix("0o") {
        if let Ok(v) = u64::from_str_radix(oct, 8) {
            return Resolved::UInt(v);
        }
        return Resolved::Str;
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = t.parse::<i64>() {
            return Resolved::Int(v);
        }
        if let Ok(v) = t.strip_prefix('+').unwrap_or(t).parse::<u64>() {
            return Resolved::UInt(v);
        }
        return Resolved::Str;
    }
    let first_ok = digits
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.');
    if first_ok
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && let Ok(v) = t.parse::<f64>()
    {
        return Resolved::Float(v);
    }
    Resolved::Str
}

#[derive(Clone, Copy)]
pub(crate) struct NodeDe<'a>(pub &'a Node);

impl NodeDe<'_> {
    /// Tags an error with this node's position (unless a deeper node already did) and removes
    /// values that came from environment variables.
    fn locate(self, mut e: DeError) -> DeError {
        if e.mark.is_none() {
            e.mark = Some(self.0.mark);
        }
        if let NodeKind::Scalar(s) = &self.0.kind {
            for secret in &s.secrets {
                if !secret.is_empty() {
                    e.message = e.message.replace(secret.as_str(), "***");
                }
            }
        }
        e
    }

    fn any<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.0;
        let result = match &node.kind {
            NodeKind::Scalar(s) => match resolve(s) {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(i) => visitor.visit_i64(i),
                Resolved::UInt(u) => visitor.visit_u64(u),
                Resolved::Float(f) => visitor.visit_f64(f),
                Resolved::Str => visitor.visit_str(&s.text),
            },
            NodeKind::Seq(items) => {
                let mut access = SeqAccess {
                    iter: items.iter(),
                    len: items.len(),
                    taken: 0,
                };
                let value = visitor.visit_seq(&mut access)?;
                if access.iter.len() > 0 {
                    return Err(
                        self.locate(de::Error::invalid_length(access.len, &"fewer elements"))
                    );
                }
                Ok(value)
            }
            NodeKind::Map(entries) => visitor.visit_map(MapAccess {
                iter: entries.iter(),
                value: None,
            }),
        };
        result.map_err(|e| self.locate(e))
    }
}

struct SeqAccess<'a> {
    iter: std::slice::Iter<'a, Node>,
    len: usize,
    taken: usize,
}

impl<'de> de::SeqAccess<'de> for &mut SeqAccess<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(node) => {
                self.taken += 1;
                let de = NodeDe(node);
                seed.deserialize(de).map(Some).map_err(|e| de.locate(e))
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapAccess<'a> {
    iter: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                let de = NodeDe(k);
                seed.deserialize(de).map(Some).map_err(|e| de.locate(e))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(v) => {
                let de = NodeDe(v);
                seed.deserialize(de).map_err(|e| de.locate(e))
            }
            None => Err(de::Error::custom("value requested before key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct EnumAccess<'a> {
    key: &'a Node,
    value: &'a Node,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAccess<'a> {
    type Error = DeError;
    type Variant = NodeDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), DeError> {
        let de = NodeDe(self.key);
        let v = seed.deserialize(de).map_err(|e| de.locate(e))?;
        Ok((v, NodeDe(self.value)))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDe<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self).map_err(|e| self.locate(e))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.any(visitor)
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                self.any(visitor)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    forward_to_any! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_bytes deserialize_byte_buf deserialize_seq deserialize_map
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.kind {
            NodeKind::Scalar(s) if s.interpolated || (!s.typed && resolve(s) != Resolved::Null) => {
                visitor.visit_str(&s.text).map_err(|e| self.locate(e))
            }
            _ => self.any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.kind {
            NodeKind::Scalar(s) if !s.interpolated && resolve(s) == Resolved::Null => {
                visitor.visit_none().map_err(|e| self.locate(e))
            }
            _ => visitor.visit_some(self).map_err(|e| self.locate(e)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| self.locate(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // serde lets structs be written as sequences; in a config that only hides mistakes
        // (`lifecycle: [...]` read as a tuple), so a struct must be a mapping.
        if let NodeKind::Seq(_) = &self.0.kind {
            return Err(self.locate(de::Error::invalid_type(de::Unexpected::Seq, &visitor)));
        }
        self.any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let result = match &self.0.kind {
            NodeKind::Scalar(s) => visitor.visit_enum(
                IntoDeserializer::<DeError>::into_deserializer(s.text.as_str()),
            ),
            NodeKind::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                visitor.visit_enum(EnumAccess { key, value })
            }
            _ => Err(de::Error::custom(format_args!(
                "expected one of {} (a single key)",
                variants
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::parse_yaml;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        migrations: Option<String>,
        location: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        count: u32,
        inner: BTreeMap<String, Inner>,
        #[serde(default)]
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Slack(String),
        GithubIssue { labels: Vec<String> },
        Plain,
    }

    fn de(text: &str) -> Result<Outer, DeError> {
        from_node(&parse_yaml(text).unwrap().unwrap())
    }

    #[test]
    fn unknown_field_points_at_key() {
        let e = de("name: a\ncount: 1\ninner:\n  main:\n    locaton: x\n").unwrap_err();
        assert_eq!(e.mark, Some(Mark { line: 5, column: 5 }));
        assert_eq!(
            e.message,
            "unknown field `locaton`, expected `migrations` or `location`"
        );
    }

    #[test]
    fn wrong_type_points_at_value() {
        let e = de("name: a\ncount: many\ninner: {}\n").unwrap_err();
        assert_eq!(e.mark, Some(Mark { line: 2, column: 8 }));
        assert!(e.message.starts_with("invalid type: string \"many\""));
    }

    #[test]
    fn missing_field_points_at_map() {
        let e = de("name: a\ninner: {}\n").unwrap_err();
        assert_eq!(e.mark, Some(Mark { line: 1, column: 1 }));
        assert_eq!(e.message, "missing field `count`");
    }

    #[test]
    fn numbers_become_strings_when_strings_are_expected() {
        let v = de("name: 123\ncount: 0x10\ninner: {}\nkind: plain\n").unwrap();
        assert_eq!(v.name, "123");
        assert_eq!(v.count, 16);
        assert_eq!(v.kind, Some(Kind::Plain));
    }

    #[test]
    fn externally_tagged_enums() {
        let v =
            de("name: a\ncount: 1\ninner: {}\nkind: { github_issue: { labels: [x] } }\n").unwrap();
        assert_eq!(
            v.kind,
            Some(Kind::GithubIssue {
                labels: vec!["x".into()]
            })
        );
        let e = de("name: a\ncount: 1\ninner: {}\nkind: { slak: x }\n").unwrap_err();
        assert_eq!(e.mark, Some(Mark { line: 4, column: 9 }));
        assert!(
            e.message.starts_with("unknown variant `slak`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn structs_must_be_mappings() {
        let e = de("name: a\ncount: 1\ninner:\n  main: [x, y]\n").unwrap_err();
        assert_eq!(e.mark, Some(Mark { line: 4, column: 9 }));
        assert_eq!(e.message, "invalid type: sequence, expected struct Inner");
    }

    #[test]
    fn core_schema_resolution() {
        let s = |t: &str| Scalar {
            text: t.into(),
            plain: true,
            interpolated: false,
            secrets: vec![],
            typed: false,
        };
        assert_eq!(resolve(&s("~")), Resolved::Null);
        assert_eq!(resolve(&s("-12")), Resolved::Int(-12));
        assert_eq!(resolve(&s("1.5e3")), Resolved::Float(1500.0));
        assert_eq!(resolve(&s("1%")), Resolved::Str);
        assert_eq!(resolve(&s("192.0.2.10")), Resolved::Str);
        assert_eq!(resolve(&s("inf")), Resolved::Str);
        assert_eq!(resolve(&s("yes")), Resolved::Str);
    }
}
