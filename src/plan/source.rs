//! The plan's text and a map from JSON pointer to the position of each node in it.
//!
//! serde_yaml (libyaml) gives positions only for syntax errors; schema violations and semantic
//! mistakes are found on values that have lost them. This map, built from saphyr-parser's
//! span-aware event stream over the same text, puts them back: every mapping key and every value
//! is recorded under its JSON pointer (`/steps/3/with/user_id`), so any finding about a value can
//! be shown at its line and column. Aliases are recorded where they are written, never expanded,
//! so a hostile file cannot make this walk expensive.
//!
//! A valid plan needs no positions, so the map is built on first use: checking a large valid plan
//! never pays for a second parse.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use saphyr_parser::{Event, Marker, Parser, Span as YamlSpan};

use crate::diagnostic::{Diagnostic, Span};

/// Plans nest a handful of levels; request bodies a few more. Anything deeper is a mistake or an
/// attack, and is refused before a recursive walk could overflow the stack.
pub const MAX_DEPTH: usize = 64;

/// A plan file's path and text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as given by the user (relative paths stay relative in messages).
    pub path: PathBuf,
    /// The text, without a byte-order mark.
    pub text: String,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

/// Where a node sits in the text: its value, and for a mapping entry its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePos {
    /// The key of the mapping entry holding this node, if it is one.
    pub key: Option<Region>,
    /// The node itself.
    pub value: Region,
}

/// A region of text between two positions (lines 1-based, columns 0-based, in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Start line (1-based).
    pub line: usize,
    /// Start column (0-based, characters).
    pub col: usize,
    /// End line (1-based).
    pub end_line: usize,
    /// End column (0-based, characters, exclusive).
    pub end_col: usize,
}

impl Region {
    pub(crate) fn from_yaml(span: &YamlSpan) -> Self {
        Region {
            line: span.start.line(),
            col: span.start.col(),
            end_line: span.end.line(),
            end_col: span.end.col(),
        }
    }

    pub(crate) fn from_marker(m: &Marker) -> Self {
        Region {
            line: m.line(),
            col: m.col(),
            end_line: m.line(),
            end_col: m.col() + 1,
        }
    }
}

impl Source {
    /// Wraps text read from `path`.
    pub fn new(path: impl Into<PathBuf>, text: String) -> Self {
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_owned(),
            None => text,
        };
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        Source {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// The directory relative file references in the plan are resolved against.
    pub fn dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// A diagnostic span for a region (carets cover it when it stays on one line).
    pub fn span(&self, r: Region) -> Span {
        let len = if r.end_line == r.line && r.end_col > r.col {
            r.end_col - r.col
        } else {
            self.line_text(r.line)
                .map(|l| l.chars().count().saturating_sub(r.col))
                .unwrap_or(1)
        };
        Span::new(self.path.clone(), r.line, r.col + 1, len.max(1))
    }

    /// A span at a 1-based line and column.
    pub fn span_at(&self, line: usize, col: usize, len: usize) -> Span {
        Span::new(self.path.clone(), line.max(1), col.max(1), len.max(1))
    }

    /// A one-character span at a byte offset (clamped to the text).
    pub fn span_at_offset(&self, offset: usize) -> Span {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let (line, col) = self.position(offset);
        Span::new(self.path.clone(), line, col + 1, 1)
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: usize) -> Option<&str> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        Some(self.text[start..end].trim_end_matches(['\n', '\r']))
    }

    /// Byte offset of a (1-based line, 0-based character column) position.
    fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = line.checked_sub(1).and_then(|l| self.line_starts.get(l)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        rest.char_indices()
            .nth(col)
            .map(|(i, _)| start + i)
            .unwrap_or(self.text.len())
    }

    /// Line and 0-based character column of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let line_idx = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line_idx];
        let col = self.text[start..offset].chars().count();
        (line_idx + 1, col)
    }

    /// The text of a region.
    pub fn slice(&self, r: Region) -> &str {
        let start = self.offset(r.line, r.col);
        let end = self.offset(r.end_line, r.end_col).max(start);
        &self.text[start..end]
    }

    /// Finds `needle` inside a node's text and returns its span; falls back to the node's start.
    /// Used to point at a name inside a template written in a YAML scalar, whatever its style.
    pub fn find_in(&self, r: Region, needle: &str) -> Span {
        let start = self.offset(r.line, r.col);
        let end = self.offset(r.end_line, r.end_col).max(start);
        if !needle.is_empty()
            && let Some(found) = self.text.get(start..end).and_then(|s| s.find(needle))
        {
            let (line, col) = self.position(start + found);
            return Span::new(self.path.clone(), line, col + 1, needle.chars().count());
        }
        self.span(r)
    }
}

/// Where every node of a plan read in one pass is written: the tree of its lists and mappings,
/// built by that pass ([`crate::plan::fast`]) at the cost of a copy of each key.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// The node's position.
    pub at: NodePos,
    /// Its children, if it is a list or a mapping.
    pub children: Children,
}

/// The children of a [`Placed`] node.
#[derive(Debug, Clone, PartialEq)]
pub enum Children {
    /// A scalar.
    None,
    /// A list's items, in order.
    Seq(Vec<Placed>),
    /// A mapping's entries, sorted by key (keys are unique).
    Map(Vec<(String, Placed)>),
}

impl Placed {
    /// The node at `pointer`, or the nearest ancestor of it that is written, with whether it is
    /// the node itself.
    fn find(&self, pointer: &str) -> (NodePos, bool) {
        let mut node = self;
        for segment in pointer.split('/').skip(1) {
            let next = match &node.children {
                Children::None => None,
                Children::Seq(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                Children::Map(entries) => {
                    let key = unescape(segment);
                    entries
                        .binary_search_by(|(k, _)| k.as_str().cmp(&key))
                        .ok()
                        .map(|i| &entries[i].1)
                }
            };
            match next {
                Some(child) => node = child,
                None => return (node.at, false),
            }
        }
        (node.at, true)
    }
}

/// A JSON pointer segment as the key it names (RFC 6901).
fn unescape(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains('~') {
        segment.replace("~1", "/").replace("~0", "~").into()
    } else {
        segment.into()
    }
}

/// The positions of a plan's nodes: found by the walk when first asked, or given by the pass
/// that read the plan.
#[derive(Debug)]
enum Nodes {
    Pointers(HashMap<String, NodePos>),
    Tree(Placed),
}

/// JSON pointer → position of every node that is written in the text, built when first asked.
#[derive(Debug)]
pub struct SourceMap<'s> {
    source: &'s Source,
    nodes: OnceCell<Nodes>,
    /// Lists some of whose items were taken out before the semantic checks (see
    /// [`crate::plan::prune`]): by the list's pointer as written, the written index of each item
    /// left. Pointers into what is left are looked up where those items are written.
    renumbered: Renumbering,
}

/// By a list's pointer in the text, the index in the text of each of its items that is left.
pub(crate) type Renumbering = HashMap<String, Vec<usize>>;

enum Frame {
    Mapping {
        pointer: String,
        /// The key just read, waiting for its value.
        key: Option<(String, Region)>,
        /// Keys seen so far, to report duplicates at the second one.
        seen: HashMap<String, Region>,
    },
    Sequence {
        pointer: String,
        next: usize,
    },
    /// A complex (non-scalar) mapping key: its events are skipped.
    Skip {
        depth: usize,
    },
}

impl<'s> SourceMap<'s> {
    /// A map of `source` that walks the text the first time a position is asked for.
    pub fn lazy(source: &'s Source) -> Self {
        SourceMap {
            source,
            nodes: OnceCell::new(),
            renumbered: Renumbering::new(),
        }
    }

    /// Walks the text now. Fails on a syntax error, a duplicate key, or nesting deeper than
    /// [`MAX_DEPTH`].
    pub fn build(source: &'s Source) -> Result<Self, Diagnostic> {
        let nodes = walk(source, true)?;
        Ok(SourceMap {
            source,
            nodes: OnceCell::from(Nodes::Pointers(nodes)),
            renumbered: Renumbering::new(),
        })
    }

    /// A map of `source` from the positions the pass that read it found.
    pub(crate) fn placed(source: &'s Source, tree: Placed) -> Self {
        SourceMap {
            source,
            nodes: OnceCell::from(Nodes::Tree(tree)),
            renumbered: Renumbering::new(),
        }
    }

    /// The position of the node at `pointer`, or of its nearest ancestor that is written in the
    /// text (nodes reached through an alias or a merge key are not).
    /// Every finding must point somewhere: when nothing of the path was placed, the start of the
    /// file is the answer.
    pub fn get(&self, pointer: &str) -> Option<NodePos> {
        let written = self.written(pointer);
        let nodes = match self.nodes() {
            Nodes::Tree(tree) => return Some(tree.find(&written).0),
            Nodes::Pointers(nodes) => nodes,
        };
        let mut p = written.as_ref();
        loop {
            if let Some(pos) = nodes.get(p) {
                return Some(*pos);
            }
            match p.rfind('/') {
                Some(cut) => p = &p[..cut],
                None => {
                    return Some(NodePos {
                        key: None,
                        value: Region {
                            line: 1,
                            col: 0,
                            end_line: 1,
                            end_col: 1,
                        },
                    });
                }
            }
        }
    }

    /// The exact node at `pointer`, if it is written in the text.
    pub fn exact(&self, pointer: &str) -> Option<NodePos> {
        let written = self.written(pointer);
        match self.nodes() {
            Nodes::Tree(tree) => Some(tree.find(&written)).filter(|f| f.1).map(|f| f.0),
            Nodes::Pointers(nodes) => nodes.get(written.as_ref()).copied(),
        }
    }

    /// From now on, pointers are into a copy of the plan some list items were taken out of.
    pub(crate) fn renumber(&mut self, renumbered: Renumbering) {
        self.renumbered = renumbered;
    }

    /// The pointer, as written in the text, of a node of the copy [`SourceMap::renumber`]
    /// describes (the same pointer when nothing was taken out).
    pub(crate) fn written<'p>(&self, pointer: &'p str) -> std::borrow::Cow<'p, str> {
        written(&self.renumbered, pointer)
    }

    /// Span of the value at `pointer` (or its nearest written ancestor).
    pub fn value_span(&self, source: &Source, pointer: &str) -> Option<Span> {
        self.get(pointer).map(|n| source.span(n.value))
    }

    /// Span of the key of the entry at `pointer`, falling back to its value.
    pub fn key_span(&self, source: &Source, pointer: &str) -> Option<Span> {
        self.get(pointer)
            .map(|n| source.span(n.key.unwrap_or(n.value)))
    }

    fn nodes(&self) -> &Nodes {
        // The text parsed already; a lazy walk only skips what it cannot place.
        self.nodes
            .get_or_init(|| Nodes::Pointers(walk(self.source, false).unwrap_or_default()))
    }
}

/// The walk itself. `strict` reports duplicate keys and excessive depth; otherwise nodes that
/// deep are simply not placed.
fn walk(source: &Source, strict: bool) -> Result<HashMap<String, NodePos>, Diagnostic> {
    let mut map = Positions::default();
    let mut stack: Vec<Frame> = Vec::new();
    {
        for item in Parser::new_from_str(&source.text) {
            let (event, span) = match item {
                Ok(item) => item,
                // When only positions are wanted, what was placed before the error is kept.
                Err(_) if !strict => break,
                Err(e) => {
                    let m = e.marker();
                    return Err(Diagnostic::error(
                        "yaml.syntax",
                        format!("invalid YAML: {}", e.info()),
                    )
                    .at(Some(source.span(Region::from_marker(m)))));
                }
            };
            if let Some(Frame::Skip { depth }) = stack.last_mut() {
                match event {
                    Event::MappingStart(..) | Event::SequenceStart(..) => *depth += 1,
                    Event::MappingEnd | Event::SequenceEnd => {
                        *depth -= 1;
                        if *depth == 0 {
                            // A complex key ended: the mapping now waits for its value.
                            stack.pop();
                            set_key(&mut stack, "?".into(), Region::from_yaml(&span));
                        }
                    }
                    _ => {}
                }
                continue;
            }
            let region = Region::from_yaml(&span);
            match event {
                Event::Scalar(value, ..) => {
                    if map.enter_key(&mut stack, source, &value, region, strict)? {
                        continue;
                    }
                    map.place(&mut stack, region, false);
                }
                Event::Alias(_) => {
                    if is_key_position(&stack) {
                        set_key(&mut stack, "*".into(), region);
                        continue;
                    }
                    map.place(&mut stack, region, false);
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    if is_key_position(&stack) {
                        stack.push(Frame::Skip { depth: 1 });
                        continue;
                    }
                    if stack.len() >= MAX_DEPTH {
                        if !strict {
                            stack.push(Frame::Skip { depth: 1 });
                            continue;
                        }
                        return Err(Diagnostic::error(
                            "yaml.too-deep",
                            format!("the plan nests deeper than {MAX_DEPTH} levels"),
                        )
                        .at(Some(source.span(region)))
                        .help("flatten this structure; no plan needs this much nesting"));
                    }
                    let pointer = map.place(&mut stack, region, true);
                    stack.push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Mapping {
                            pointer,
                            key: None,
                            seen: HashMap::new(),
                        }
                    } else {
                        Frame::Sequence { pointer, next: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
    }
    Ok(map.nodes)
}

#[derive(Default)]
struct Positions {
    nodes: HashMap<String, NodePos>,
}

impl Positions {
    /// If the scalar is a mapping key, records it and returns true.
    fn enter_key(
        &mut self,
        stack: &mut [Frame],
        source: &Source,
        value: &str,
        region: Region,
        strict: bool,
    ) -> Result<bool, Diagnostic> {
        let Some(Frame::Mapping { key, seen, .. }) = stack.last_mut() else {
            return Ok(false);
        };
        if key.is_some() {
            return Ok(false);
        }
        *key = Some((value.to_owned(), region));
        // Only the strict walk reports a key written twice; the lazy one just places nodes.
        if !strict {
            return Ok(true);
        }
        if let Some(first) = seen.get(value) {
            return Err(Diagnostic::error(
                "yaml.duplicate-key",
                format!("duplicate key `{value}` in the same mapping"),
            )
            .at(Some(source.span(region)))
            .label("written again here")
            .help(format!(
                "`{value}` is already set on line {}; keep one of them",
                first.line
            )));
        }
        seen.insert(value.to_owned(), region);
        Ok(true)
    }

    /// Records a value at the current position; returns its pointer when `opens` (a mapping or
    /// list starts there, and its children need it), else an empty string.
    fn place(&mut self, stack: &mut [Frame], region: Region, opens: bool) -> String {
        let (pointer, key_region) = match stack.last_mut() {
            None => (String::new(), None),
            Some(Frame::Mapping { pointer, key, .. }) => match key.take() {
                Some((name, key_region)) => (child(pointer, &name), Some(key_region)),
                None => (pointer.clone(), None),
            },
            Some(Frame::Sequence { pointer, next }) => {
                use std::fmt::Write as _;
                let mut p = String::with_capacity(pointer.len() + 6);
                p.push_str(pointer);
                let _ = write!(p, "/{next}");
                *next += 1;
                (p, None)
            }
            Some(Frame::Skip { .. }) => (String::new(), None),
        };
        let at = NodePos {
            key: key_region,
            value: region,
        };
        if opens {
            self.nodes.insert(pointer.clone(), at);
            pointer
        } else {
            self.nodes.insert(pointer, at);
            String::new()
        }
    }
}

fn is_key_position(stack: &[Frame]) -> bool {
    matches!(stack.last(), Some(Frame::Mapping { key: None, .. }))
}

fn set_key(stack: &mut [Frame], name: String, region: Region) {
    if let Some(Frame::Mapping { key, .. }) = stack.last_mut() {
        *key = Some((name, region));
    }
}

/// The pointer in the text of the node at `pointer` in a copy with some list items taken out.
pub(crate) fn written<'p>(renumbered: &Renumbering, pointer: &'p str) -> std::borrow::Cow<'p, str> {
    if renumbered.is_empty() {
        return pointer.into();
    }
    let mut out = String::with_capacity(pointer.len());
    for segment in pointer.split('/').skip(1) {
        let index = renumbered
            .get(&out)
            .zip(segment.parse::<usize>().ok())
            .and_then(|(left, i)| left.get(i));
        out.push('/');
        match index {
            Some(i) => out.push_str(&i.to_string()),
            None => out.push_str(segment),
        }
    }
    out.into()
}

/// Appends an escaped segment to a JSON pointer (RFC 6901).
pub fn child(pointer: &str, segment: &str) -> String {
    let mut p = String::with_capacity(pointer.len() + segment.len() + 1);
    p.push_str(pointer);
    p.push('/');
    if !segment.contains(['~', '/']) {
        p.push_str(segment);
        return p;
    }
    for c in segment.chars() {
        match c {
            '~' => p.push_str("~0"),
            '/' => p.push_str("~1"),
            c => p.push(c),
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source::new("t.yaml", text.to_owned())
    }

    #[test]
    fn records_keys_and_values_by_pointer() {
        let source = source("a: 1\nsteps:\n  - id: x\n    with: {k: \"v\"}\n");
        let m = SourceMap::build(&source).expect("valid yaml");
        let with_k = m.exact("/steps/0/with/k").expect("recorded");
        assert_eq!((with_k.value.line, with_k.value.col), (4, 14));
        assert_eq!(
            m.key_span(&source, "/steps/0/id").map(|s| (s.line, s.col)),
            Some((3, 5))
        );
        assert_eq!(
            m.value_span(&source, "/steps/0/nope/deeper")
                .map(|s| s.line),
            Some(3)
        );
    }

    #[test]
    fn escapes_pointer_segments() {
        let source = source("\"a/b\": {\"c~d\": 1}\n");
        let m = SourceMap::build(&source).expect("valid yaml");
        assert!(m.exact("/a~1b/c~0d").is_some());
    }

    #[test]
    fn reports_duplicate_keys_at_the_second_one() {
        let source = Source::new("t.yaml", "a: 1\nb: 2\na: 3\n".to_owned());
        let err = SourceMap::build(&source).expect_err("duplicate");
        assert_eq!(err.span.map(|s| (s.line, s.col)), Some((3, 1)));
    }

    #[test]
    fn refuses_absurd_nesting() {
        let text = "a: ".to_owned() + &"[".repeat(100) + &"]".repeat(100);
        let source = Source::new("t.yaml", text);
        let err = SourceMap::build(&source).expect_err("too deep");
        assert!(err.code.starts_with("yaml."));
    }

    #[test]
    fn finds_text_inside_a_block_scalar() {
        let source = source("k: |\n  hello {{ vars.x }}\n");
        let m = SourceMap::lazy(&source);
        let node = m.exact("/k").expect("recorded");
        let s = source.find_in(node.value, "vars.x");
        assert_eq!((s.line, s.col, s.len), (2, 12, 6));
    }
}
