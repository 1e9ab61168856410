//! A small document tree with positions, built from YAML events (saphyr-parser) or from a
//! JSONC syntax tree. Everything typed in this crate is deserialized from this tree by
//! [`crate::de`], so every error — syntax, shape or semantic — can point at a line and column.
//!
//! Parsing is bounded: input size is checked by the caller, nesting depth and the number of
//! nodes (counting alias expansions, so a "billion laughs" document stops early) are
//! checked here, and the parser itself is iterative (no recursion on input depth).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// 1-based line and column of a node's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Mark {
    pub line: usize,
    pub column: usize,
}

#[derive(Clone)]
pub(crate) struct Scalar {
    pub text: String,
    /// Plain (unquoted) scalars are resolved to null/bool/number by the YAML core schema.
    pub plain: bool,
    /// Some `${…}` was substituted: the value is text whatever it looks like when a string is
    /// expected.
    pub interpolated: bool,
    /// Values substituted from environment variables: redacted from any error message.
    pub secrets: Vec<String>,
    /// From a typed format (JSON, TOML): an unquoted number or boolean is not a string.
    pub typed: bool,
}

/// Scalars holding values from environment variables print redacted.
impl std::fmt::Debug for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: &dyn std::fmt::Debug = if self.secrets.is_empty() {
            &self.text
        } else {
            &"[redacted]"
        };
        f.debug_struct("Scalar")
            .field("text", text)
            .field("plain", &self.plain)
            .field("interpolated", &self.interpolated)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub mark: Mark,
}

impl Default for Node {
    fn default() -> Self {
        Node::empty_map(Mark::default())
    }
}

/// One step of a path into the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(value: &str) -> Self {
        Seg::Key(value.to_owned())
    }
}

impl From<String> for Seg {
    fn from(value: String) -> Self {
        Seg::Key(value)
    }
}

impl From<usize> for Seg {
    fn from(value: usize) -> Self {
        Seg::Index(value)
    }
}

/// Builds a path from keys and indexes: `segs!["resources", "r2", name]`.
macro_rules! segs {
    ($($seg:expr),* $(,)?) => { [$($crate::node::Seg::from($seg)),*] };
}
pub(crate) use segs;

impl Node {
    pub fn scalar(text: impl Into<String>, plain: bool, mark: Mark) -> Self {
        Node {
            kind: NodeKind::Scalar(Scalar {
                text: text.into(),
                plain,
                interpolated: false,
                secrets: Vec::new(),
                typed: false,
            }),
            mark,
        }
    }

    /// A number, boolean or null from JSON or TOML.
    pub fn typed_scalar(text: impl Into<String>, mark: Mark) -> Self {
        let mut node = Node::scalar(text, true, mark);
        if let NodeKind::Scalar(s) = &mut node.kind {
            s.typed = true;
        }
        node
    }

    pub fn empty_map(mark: Mark) -> Self {
        Node {
            kind: NodeKind::Map(Vec::new()),
            mark,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// The entry (key node, value node) of a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The node at `path`, if it exists.
    pub fn at(&self, path: &[Seg]) -> Option<&Node> {
        let mut node = self;
        for seg in path {
            node = match (seg, &node.kind) {
                (Seg::Key(k), NodeKind::Map(_)) => node.get(k)?,
                (Seg::Index(i), NodeKind::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The best mark for `path`: the key of the last map step when `key` is true (so that
    /// "invalid name" points at the name), else the value; falls back to the deepest existing
    /// ancestor so a semantic error always has a position.
    pub fn mark_of(&self, path: &[Seg], key: bool) -> Mark {
        let mut node = self;
        let mut mark = self.mark;
        for (i, seg) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            match (seg, &node.kind) {
                (Seg::Key(k), NodeKind::Map(_)) => match node.entry(k) {
                    Some((kn, vn)) => {
                        mark = if last && key { kn.mark } else { vn.mark };
                        node = vn;
                    }
                    None => return mark,
                },
                (Seg::Index(idx), NodeKind::Seq(items)) => match items.get(*idx) {
                    Some(item) => {
                        mark = item.mark;
                        node = item;
                    }
                    None => return mark,
                },
                _ => return mark,
            }
        }
        mark
    }

    /// Deep merge: mappings merge key by key, anything else is replaced by `over`.
    pub fn merge(&mut self, over: &Node) {
        match (&mut self.kind, &over.kind) {
            (NodeKind::Map(base), NodeKind::Map(over_entries)) => {
                for (ok, ov) in over_entries {
                    let existing = base
                        .iter_mut()
                        .find(|(k, _)| k.as_str().is_some() && k.as_str() == ok.as_str());
                    match existing {
                        Some((_, bv)) => bv.merge(ov),
                        None => base.push((ok.clone(), ov.clone())),
                    }
                }
            }
            _ => *self = over.clone(),
        }
    }

    fn count(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar(_) => 1,
            NodeKind::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            NodeKind::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.count() + v.count())
                    .sum::<usize>()
            }
        }
    }
}

/// Limits that keep hostile input cheap.
pub(crate) const MAX_DEPTH: usize = 64;
pub(crate) const MAX_NODES: usize = 200_000;

/// A parse failure with its position.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub mark: Mark,
    pub message: String,
}

fn mark_of(m: saphyr_parser::Marker) -> Mark {
    Mark {
        line: m.line(),
        column: m.col() + 1,
    }
}

enum Frame {
    Seq {
        mark: Mark,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        mark: Mark,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Parses one YAML document into a tree. `Ok(None)` for an empty stream (only comments).
pub(crate) fn parse_yaml(text: &str) -> Result<Option<Node>, ParseError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0usize;

    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| ParseError {
            mark: mark_of(*e.marker()),
            message: if e.info() == "recursion limit exceeded" {
                "nesting too deep (the YAML parser's recursion limit)".to_owned()
            } else {
                e.info().to_owned()
            },
        })?;
        let mark = mark_of(span.start);
        let complete: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(ParseError {
                        mark,
                        message: "more than one YAML document; sv.yaml holds exactly one"
                            .to_owned(),
                    });
                }
                None
            }
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    return Err(ParseError {
                        mark,
                        message: "alias to an unknown anchor".to_owned(),
                    });
                };
                nodes += target.count();
                if nodes > MAX_NODES {
                    return Err(too_many(mark));
                }
                let mut node = target.clone();
                node.mark = mark;
                Some((node, 0))
            }
            Event::Scalar(value, style, anchor, tag) => {
                if let Some(tag) = tag {
                    return Err(tag_error(&tag, mark));
                }
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(too_many(mark));
                }
                let plain = matches!(style, ScalarStyle::Plain);
                Some((Node::scalar(value.into_owned(), plain, mark), anchor))
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if let Some(tag) = tag {
                    return Err(tag_error(tag, mark));
                }
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(too_many(mark));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError {
                        mark,
                        message: format!("nesting deeper than {MAX_DEPTH} levels"),
                    });
                }
                if matches!(event, Event::SequenceStart(..)) {
                    stack.push(Frame::Seq {
                        mark,
                        anchor,
                        items: Vec::new(),
                    });
                } else {
                    stack.push(Frame::Map {
                        mark,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    });
                }
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    mark,
                    anchor,
                    items,
                }) => Some((
                    Node {
                        kind: NodeKind::Seq(items),
                        mark,
                    },
                    anchor,
                )),
                Some(Frame::Map {
                    mark,
                    anchor,
                    entries,
                    ..
                }) => Some((
                    Node {
                        kind: NodeKind::Map(entries),
                        mark,
                    },
                    anchor,
                )),
                None => None,
            },
        };
        let Some((node, anchor)) = complete else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    let Some(text) = node.as_str() else {
                        return Err(ParseError {
                            mark: node.mark,
                            message: "mapping keys must be plain strings".to_owned(),
                        });
                    };
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.as_str() == Some(text))
                    {
                        return Err(ParseError {
                            mark: node.mark,
                            message: format!(
                                "duplicate key {} (first defined at line {})",
                                crate::error::quote(text),
                                first.mark.line
                            ),
                        });
                    }
                    *key = Some(node);
                }
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(root)
}

fn tag_error(tag: &saphyr_parser::Tag, mark: Mark) -> ParseError {
    let shown = if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        tag.to_string()
    };
    ParseError {
        mark,
        message: format!(
            "YAML tags are not supported (found {})",
            crate::error::quote(&shown)
        ),
    }
}

fn too_many(mark: Mark) -> ParseError {
    ParseError {
        mark,
        message: format!(
            "document too large: more than {MAX_NODES} nodes (counting alias expansions)"
        ),
    }
}

/// Converts a byte offset in `text` to a 1-based line and column (in characters).
pub(crate) fn mark_at(text: &str, offset: usize) -> Mark {
    let offset = offset.min(text.len());
    let mut offset = offset;
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Mark { line, column }
}

/// Maximum bracket nesting of a JSON(C) or TOML text, ignoring strings and comments. Lets us
/// refuse deep input before handing it to a recursive parser.
pub(crate) fn bracket_depth(text: &str, hash_comments: bool) -> (usize, usize) {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut max = 0usize;
    let mut max_at = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
                    if bytes[i] == b'\\' && quote == b'"' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'#' if hash_comments => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if !hash_comments && bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if !hash_comments && bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    max = depth;
                    max_at = i;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    (max, max_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_one_based() {
        let root = parse_yaml("a:\n  b: 1\n  c: [x, 'y']\n").unwrap().unwrap();
        let b = root.at(&segs!["a", "b"]).unwrap();
        assert_eq!(b.mark, Mark { line: 2, column: 6 });
        assert_eq!(
            root.mark_of(&segs!["a", "c"], true),
            Mark { line: 3, column: 3 }
        );
        let y = root.at(&segs!["a", "c", 1]).unwrap();
        assert_eq!(
            y.mark,
            Mark {
                line: 3,
                column: 10
            }
        );
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = parse_yaml("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.mark, Mark { line: 3, column: 1 });
        assert!(e.message.contains("duplicate key `a`"), "{}", e.message);
    }

    #[test]
    fn billion_laughs_stops() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse_yaml(&doc).unwrap_err();
        assert!(e.message.contains("too large"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_stops() {
        let doc = "[".repeat(10_000);
        // saphyr-parser has its own recursion limit, lower than ours for flow collections.
        let e = parse_yaml(&doc).unwrap_err();
        assert!(
            e.message.contains("nesting") || e.message.contains("recursion"),
            "{}",
            e.message
        );
        let mut block = String::new();
        for i in 0..100 {
            block.push_str(&" ".repeat(i * 2));
            block.push_str("k:\n");
        }
        let e = parse_yaml(&block).unwrap_err();
        assert!(e.message.contains("nesting"), "{}", e.message);
    }

    #[test]
    fn merge_is_deep_for_maps() {
        let mut base = parse_yaml("a: {b: 1, c: [1, 2]}\n").unwrap().unwrap();
        let over = parse_yaml("a: {c: [3], d: 4}\n").unwrap().unwrap();
        base.merge(&over);
        let a = base.get("a").unwrap();
        assert_eq!(a.at(&segs!["b"]).unwrap().as_str(), Some("1"));
        assert_eq!(a.at(&segs!["c", 0]).unwrap().as_str(), Some("3"));
        assert!(a.at(&segs!["c", 1]).is_none());
        assert_eq!(a.at(&segs!["d"]).unwrap().as_str(), Some("4"));
    }

    #[test]
    fn byte_offsets_to_marks() {
        assert_eq!(mark_at("ab\ncé\nx", 7), Mark { line: 3, column: 1 });
        assert_eq!(mark_at("ab\ncé\nx", 6), Mark { line: 2, column: 3 });
        assert_eq!(mark_at("ab\ncé", 4), Mark { line: 2, column: 2 });
    }

    #[test]
    fn bracket_depth_ignores_strings_and_comments() {
        assert_eq!(
            bracket_depth(
                r#"{"a": "[[[[", // [[[[
 "b": [1]}"#,
                false
            )
            .0,
            2
        );
        assert_eq!(bracket_depth("a = '[[[' # [[[\nb = [[1]]", true).0, 2);
    }
}
