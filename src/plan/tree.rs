//! The plan file as a YAML tree that remembers where every key and value stands.
//!
//! Structural and semantic checks both report problems by their path in this tree, so every
//! message can point at a line and column of the admin's own file.

use std::fmt;
use std::rc::Rc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a key or value stands in the file: 1-based line and column, and its length in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
    pub len: u64,
}

impl Pos {
    fn from_location(location: &serde_saphyr::Location) -> Self {
        Pos { line: location.line(), column: location.column(), len: location.span().len() }
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

impl NodeKind {
    /// The name an admin would use for this kind of value, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            NodeKind::Null => "nothing (null)",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Number(n) if n.is_f64() => "a number",
            NodeKind::Number(_) => "an integer",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// One step of a path into the tree: a mapping key or a list index. Keys are shared, not copied,
/// when a path is extended: the checks extend a path for every value of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(Rc<str>),
    Index(usize),
}

/// A path such as `identity_center.users[3].email`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Segment>);

impl Path {
    pub fn root() -> Self {
        Path(Vec::new())
    }

    pub fn key(&self, name: &str) -> Self {
        self.with(Segment::Key(name.into()))
    }

    pub fn index(&self, index: usize) -> Self {
        self.with(Segment::Index(index))
    }

    fn with(&self, last: Segment) -> Self {
        let mut segments = Vec::with_capacity(self.0.len() + 1);
        segments.extend_from_slice(&self.0);
        segments.push(last);
        Path(segments)
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// What a path points at: the value, and the key that introduced it when there is one.
pub struct Located<'a> {
    pub node: &'a Node,
    pub key: Option<&'a Key>,
}

impl Node {
    pub fn get(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn find(&self, path: &Path) -> Option<Located<'_>> {
        let mut located = Located { node: self, key: None };
        for segment in &path.0 {
            located = match (segment, &located.node.kind) {
                (Segment::Key(name), NodeKind::Map(_)) => {
                    let (key, node) = located.node.get(name)?;
                    Located { node, key: Some(key) }
                }
                (Segment::Index(i), NodeKind::Seq(items)) => Located { node: items.get(*i)?, key: None },
                _ => return None,
            };
        }
        Some(located)
    }

    /// The closest position to `path` that exists: the value itself, or its nearest ancestor
    /// (a missing key is reported where its parent mapping starts).
    pub fn position_of(&self, path: &Path) -> Pos {
        let mut prefix = path.clone();
        loop {
            if let Some(found) = self.find(&prefix) {
                return found.node.pos;
            }
            if prefix.0.pop().is_none() {
                return self.pos;
            }
        }
    }

    /// Where the key of `path` is written, falling back to the value's position.
    pub fn key_position_of(&self, path: &Path) -> Pos {
        match self.find(path) {
            Some(Located { key: Some(key), .. }) => key.pos,
            _ => self.position_of(path),
        }
    }

    /// Removes every repeated key of every mapping, keeping the first (YAML forbids repeats; the
    /// first is what the checks read so that the rest of the file is still checked), and returns
    /// where each repeat was written.
    pub fn remove_repeated_keys(&mut self, path: &Path, found: &mut Vec<(Path, Key)>) {
        let mut path = path.clone();
        self.remove_repeated_keys_at(&mut path, found);
    }

    /// `path` grows and shrinks in place as the walk goes down and back up: a plan has a value per
    /// line, and copying the path for each would cost more than the walk.
    fn remove_repeated_keys_at(&mut self, path: &mut Path, found: &mut Vec<(Path, Key)>) {
        match &mut self.kind {
            NodeKind::Map(entries) => {
                if has_repeated_key(entries) {
                    let mut seen = std::collections::HashSet::new();
                    entries.retain(|(key, _)| {
                        let first = seen.insert(key.name.clone());
                        if !first {
                            found.push((path.key(&key.name), key.clone()));
                        }
                        first
                    });
                }
                for (key, value) in entries {
                    path.0.push(Segment::Key(key.name.as_str().into()));
                    value.remove_repeated_keys_at(path, found);
                    path.0.pop();
                }
            }
            NodeKind::Seq(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    path.0.push(Segment::Index(i));
                    item.remove_repeated_keys_at(path, found);
                    path.0.pop();
                }
            }
            _ => {}
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Number(n) => Value::Number(n.clone()),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => {
                Value::Object(entries.iter().map(|(k, v)| (k.name.clone(), v.to_json())).collect())
            }
        }
    }
}

/// Whether a mapping names a key twice, without allocating: most mappings are a handful of keys.
fn has_repeated_key(entries: &[(Key, Node)]) -> bool {
    if entries.len() <= 16 {
        return entries.iter().enumerate().any(|(i, (key, _))| entries[..i].iter().any(|(k, _)| k.name == key.name));
    }
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    !entries.iter().all(|(key, _)| seen.insert(key.name.as_str()))
}

impl From<Spanned<NodeKind>> for Node {
    fn from(spanned: Spanned<NodeKind>) -> Self {
        Node { pos: Pos::from_location(&spanned.referenced), kind: spanned.value }
    }
}

/// A mapping key: YAML allows any scalar, the plan only uses strings, so keep its text.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<KeyText, E> {
                Ok(KeyText(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".to_owned()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for NodeKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = NodeKind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<NodeKind, E> {
                Ok(NodeKind::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<NodeKind, E> {
                Ok(NodeKind::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeKind, D::Error> {
                NodeKind::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<NodeKind, E> {
                Ok(NodeKind::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeKind, E> {
                Ok(NodeKind::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeKind, E> {
                Ok(NodeKind::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeKind, E> {
                serde_json::Number::from_f64(v).map(NodeKind::Number).ok_or_else(|| E::custom("numbers must be finite"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeKind, E> {
                Ok(NodeKind::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<NodeKind, E> {
                Ok(NodeKind::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeKind, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<NodeKind>>()? {
                    items.push(Node::from(item));
                }
                Ok(NodeKind::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
                let mut entries: Vec<(Key, Node)> = Vec::new();
                while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
                    let value = map.next_value::<Spanned<NodeKind>>()?;
                    let key = Key { pos: Pos::from_location(&key.referenced), name: key.value.0 };
                    entries.push((key, Node::from(value)));
                }
                Ok(NodeKind::Map(entries))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}
