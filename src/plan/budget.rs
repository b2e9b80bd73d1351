//! What a plan's YAML may cost, refused before serde_yaml (libyaml) sees the text.
//!
//! libyaml keeps one "possible simple key" per open flow collection and scans that stack on
//! every token, so its time grows with the square of the flow nesting depth (200 KB of `[[[…]]]`
//! took 22 s); serde_yaml only counts depth after the whole event stream is built. Its alias
//! limit counts alias uses, not the nodes they expand to, so a small file of anchors that repeat
//! each other builds a value of gigabytes. Both are refused here, at the node that crosses the
//! limit:
//!
//! - nesting deeper than [`MAX_DEPTH`] levels of lists and mappings (`yaml.too-deep`), counting
//!   the levels an alias brings with it;
//! - aliases that would add more than [`MAX_ALIAS_NODES`] nodes (`yaml.alias-bomb`).
//!
//! A plan written the usual way (block mappings and lists, flow collections that close on their
//! line, no anchors) is recognized by a single pass over its lines, [`simple`], and costs nothing
//! more. Anything else gets an exact walk of saphyr-parser's events ([`exact`]), which stops at the
//! first node past a limit: saphyr's scanner keeps a bounded stack, so the walk is linear however
//! the text nests.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

use super::source::{MAX_DEPTH, Region, Source};
use crate::diagnostic::Diagnostic;

/// Aliases (`*name`, and merges `<<: *name`) may add this many nodes to what is written. Reusing
/// a ten-key mapping on ten thousand steps fits; anchors that repeat each other do not.
pub const MAX_ALIAS_NODES: usize = 200_000;

/// Refuses text whose nesting or alias expansion is past the limits, with a located error.
pub fn check(source: &Source) -> Result<Shape, Diagnostic> {
    if simple(&source.text) {
        return Ok(Shape::Simple);
    }
    exact(source).map(|()| Shape::Other)
}

/// What [`check`] saw of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every line is of a kind [`simple`] follows exactly, as libyaml's scanner reads it.
    Simple,
    /// Something else, checked by the exact walk.
    Other,
}

fn too_deep(source: &Source, region: Region) -> Diagnostic {
    Diagnostic::error(
        "yaml.too-deep",
        format!("the plan nests deeper than {MAX_DEPTH} levels"),
    )
    .at(Some(source.span(region)))
    .help("flatten this structure; no plan needs this much nesting")
}

/// A list or mapping being walked.
struct Open {
    /// Its anchor id (0: none).
    anchor: usize,
    /// Expanded nodes counted before it started.
    nodes_before: usize,
    /// Levels of the deepest child so far (0: none, or scalars only).
    child_levels: usize,
}

/// The exact walk: saphyr's events, with the size and the levels of every anchored node.
fn exact(source: &Source) -> Result<(), Diagnostic> {
    let mut open: Vec<Open> = Vec::new();
    // Anchor id → (expanded nodes, levels of lists and mappings), once the node is complete.
    let mut anchors: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut nodes = 0usize;
    let mut added = 0usize;
    for item in Parser::new_from_str(&source.text) {
        let (event, span) = match item {
            Ok(item) => item,
            // saphyr's scanner reads ahead of its events and has its own flow nesting limit.
            Err(e) if e.info().contains("recursion limit") => {
                return Err(too_deep(source, Region::from_marker(e.marker())));
            }
            Err(e) => {
                let largest = anchors.values().map(|&(size, _)| size).max().unwrap_or(0);
                return after_syntax_error(source, &e, largest, added);
            }
        };
        let region = Region::from_yaml(&span);
        // Levels of the node that just completed (scalar, alias or collection), if one did.
        let completed = match event {
            Event::Scalar(_, _, anchor, _) => {
                nodes += 1;
                if anchor != 0 {
                    anchors.insert(anchor, (1, 0));
                }
                Some(0)
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_DEPTH {
                    return Err(too_deep(source, region));
                }
                open.push(Open {
                    anchor,
                    nodes_before: nodes,
                    child_levels: 0,
                });
                nodes += 1;
                None
            }
            Event::SequenceEnd | Event::MappingEnd => open.pop().map(|done| {
                let levels = done.child_levels + 1;
                if done.anchor != 0 {
                    anchors.insert(done.anchor, (nodes - done.nodes_before, levels));
                }
                levels
            }),
            Event::Alias(id) => {
                let Some(&(size, levels)) = anchors.get(&id) else {
                    // An alias inside the node it names repeats that node in itself for ever.
                    if open.iter().any(|o| o.anchor == id) {
                        return Err(Diagnostic::error(
                            "yaml.too-deep",
                            format!(
                                "alias `{}` repeats the node that contains it, which nests without end",
                                source.slice(region)
                            ),
                        )
                        .at(Some(source.span(region)))
                        .help("an alias can only repeat a node that is complete above it"));
                    }
                    // An unknown anchor: serde_yaml reports it.
                    return Ok(());
                };
                if open.len() + levels > MAX_DEPTH {
                    return Err(too_deep(source, region));
                }
                nodes += size;
                added += size;
                if added > MAX_ALIAS_NODES {
                    return Err(Diagnostic::error(
                        "yaml.alias-bomb",
                        format!(
                            "the plan's aliases expand to more than {MAX_ALIAS_NODES} nodes"
                        ),
                    )
                    .at(Some(source.span(region)))
                    .label("the limit is crossed here")
                    .help("aliases (`*name`) that refer to lists of aliases grow exponentially; write the values out"));
                }
                Some(levels)
            }
            _ => None,
        };
        if let (Some(levels), Some(parent)) = (completed, open.last_mut()) {
            parent.child_levels = parent.child_levels.max(levels);
        }
    }
    Ok(())
}

/// saphyr stopped at a syntax error. serde_yaml's message is the one users know from other tools,
/// but libyaml reads on where saphyr stopped: it gets the text only when what follows the error
/// cannot cost much (its time is at most the rest's length times the brackets in it, and its
/// aliases can only repeat the anchors already measured) and defines no anchor. Otherwise
/// saphyr's own message is the answer.
fn after_syntax_error(
    source: &Source,
    e: &saphyr_parser::ScanError,
    largest_anchor: usize,
    added: usize,
) -> Result<(), Diagnostic> {
    // serde_yaml stops at an unknown anchor too, whatever follows.
    if e.info().contains("unknown anchor") {
        return Ok(());
    }
    let index = e.marker().index();
    let rest = source
        .text
        .char_indices()
        .nth(index)
        .map_or("", |(i, _)| &source.text[i..]);
    let brackets = rest.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
    let aliases = rest.bytes().filter(|&b| b == b'*').count();
    let anchors = rest.contains('&');
    let cheap = rest.len().saturating_mul(brackets) <= 1 << 26
        && added.saturating_add(aliases.saturating_mul(largest_anchor)) <= MAX_ALIAS_NODES;
    if cheap && !anchors {
        return Ok(());
    }
    Err(
        Diagnostic::error("yaml.syntax", format!("invalid YAML: {}", e.info()))
            .at(Some(source.span(Region::from_marker(e.marker())))),
    )
}

/// True when every line is of a kind whose nesting is plain to see: block keys and list entries,
/// plain, quoted and block scalars, comments, and flow collections that close on their line, no
/// deeper than [`MAX_DEPTH`]; no anchors, tags or directives. It follows libyaml's scanner
/// (`scanner.rs` of libyaml-rs) where that decides what is a bracket and what is text; anything
/// it does not follow exactly answers false, which only costs the exact walk.
pub(crate) fn simple(text: &str) -> bool {
    // Line breaks other than `\n` and `\r\n`, and byte-order marks, which libyaml skips at any
    // line start.
    if text.contains(['\u{85}', '\u{2028}', '\u{2029}', '\u{feff}'])
        || text
            .as_bytes()
            .windows(2)
            .any(|w| w[0] == b'\r' && w[1] != b'\n')
        || text.ends_with('\r')
    {
        return false;
    }
    let mut lines = Lines::default();
    let bytes = text.as_bytes();
    let mut start = 0;
    memchr::memchr_iter(b'\n', bytes)
        .chain(std::iter::once(bytes.len()))
        .all(|end| {
            let line = &bytes[start..end];
            start = end + 1;
            lines.line(line.strip_suffix(b"\r").unwrap_or(line))
        })
}

/// What the previous lines leave open.
#[derive(Default)]
struct Lines {
    /// The last line ended in a plain scalar under an entry at this column (`None`: at the start
    /// of the line): a more indented line would continue it.
    plain: Option<Option<usize>>,
    /// Inside a block scalar (`|`, `>`).
    block: Option<BlockScalar>,
}

struct BlockScalar {
    /// Column of the entry that holds it (`None`: at the start of the document).
    parent: Option<usize>,
    /// Its indentation, once its first line with text is seen.
    indent: Option<usize>,
    /// Spaces of the longest blank line before that (libyaml counts them).
    blank: usize,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn blank_or_end(line: &[u8], at: usize) -> bool {
    line.get(at).is_none_or(|&b| is_blank(b))
}

impl Lines {
    fn line(&mut self, line: &[u8]) -> bool {
        let spaces = line.iter().take_while(|&&b| b == b' ').count();
        let blank = spaces == line.len();
        if let Some(block) = &mut self.block {
            let least = block.parent.map_or(1, |p| p + 1).max(1);
            match block.indent {
                _ if blank => {
                    block.blank = block.blank.max(spaces);
                    return true;
                }
                None => {
                    let indent = spaces.max(block.blank).max(least);
                    block.indent = Some(indent);
                    if spaces >= indent {
                        return true;
                    }
                }
                Some(indent) if spaces >= indent => return true,
                Some(_) => {}
            }
            // A tab where indentation spaces are expected is an error in libyaml.
            if line.get(spaces) == Some(&b'\t') {
                return false;
            }
            self.block = None;
        }
        if blank {
            return true;
        }
        if line.get(spaces) == Some(&b'\t') {
            return false;
        }
        // A more indented line after a plain scalar continues it: libyaml follows the
        // indentation there, this pass does not.
        if let Some(parent) = self.plain.take()
            && parent.is_none_or(|p| spaces > p)
        {
            return false;
        }
        let mut at = spaces;
        if spaces == 0 {
            if line.starts_with(b"%") {
                return false;
            }
            if (line.starts_with(b"---") || line.starts_with(b"...")) && blank_or_end(line, 3) {
                at = 3;
            }
        }
        self.node(line, at, None)
    }

    /// Reads a node starting at `at` (after blanks), held by an entry at column `parent`.
    fn node(&mut self, line: &[u8], mut at: usize, mut parent: Option<usize>) -> bool {
        loop {
            while line.get(at) == Some(&b' ') {
                at += 1;
            }
            let Some(&c) = line.get(at) else {
                return true;
            };
            match c {
                b'#' => return true,
                b'\t' => return false,
                b'-' if blank_or_end(line, at + 1) => {
                    parent = Some(at);
                    at += 1;
                }
                b'?' | b':' if blank_or_end(line, at + 1) => return false,
                b'[' | b'{' => match flow(line, at) {
                    Some(end) => {
                        let start = at;
                        at = end;
                        match after_value(line, &mut at) {
                            After::End => return true,
                            After::Key => parent = Some(start),
                            After::Other => return false,
                        }
                    }
                    None => return false,
                },
                b'"' | b'\'' => match quoted(line, at) {
                    Some(end) => {
                        let start = at;
                        at = end;
                        match after_value(line, &mut at) {
                            After::End => return true,
                            After::Key => parent = Some(start),
                            After::Other => return false,
                        }
                    }
                    None => return false,
                },
                b'|' | b'>' => {
                    let mut i = at + 1;
                    while matches!(line.get(i), Some(b'+' | b'-')) {
                        i += 1;
                    }
                    // An explicit indentation indicator (`|2`) is left to the exact walk.
                    if !blank_or_end(line, i) {
                        return false;
                    }
                    while line.get(i).is_some_and(|&b| is_blank(b)) {
                        i += 1;
                    }
                    if !matches!(line.get(i), None | Some(b'#')) {
                        return false;
                    }
                    self.block = Some(BlockScalar {
                        parent,
                        indent: None,
                        blank: 0,
                    });
                    return true;
                }
                b'*' => {
                    at += 1;
                    while line
                        .get(at)
                        .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    {
                        at += 1;
                    }
                    return matches!(after_value(line, &mut at), After::End);
                }
                b'&' | b'!' | b'%' | b'@' | b'`' | b',' | b']' | b'}' => return false,
                _ => {
                    // A plain scalar: in block context it ends at `: ` (a key), ` #` or the end.
                    let start = at;
                    loop {
                        match line.get(at) {
                            None => {
                                self.plain = Some(parent);
                                return true;
                            }
                            Some(b':') if blank_or_end(line, at + 1) => {
                                parent = Some(start);
                                at += 1;
                                break;
                            }
                            Some(&b) if is_blank(b) && line.get(at + 1) == Some(&b'#') => {
                                self.plain = Some(parent);
                                return true;
                            }
                            Some(_) => at += 1,
                        }
                    }
                }
            }
        }
    }
}

enum After {
    /// Nothing but a comment follows.
    End,
    /// `:` follows: the value was a key; `at` is past the colon.
    Key,
    /// Anything else.
    Other,
}

fn after_value(line: &[u8], at: &mut usize) -> After {
    while line.get(*at) == Some(&b' ') {
        *at += 1;
    }
    match line.get(*at) {
        None | Some(b'#') => After::End,
        Some(b':') if blank_or_end(line, *at + 1) => {
            *at += 1;
            After::Key
        }
        Some(_) => After::Other,
    }
}

/// The end of a quoted scalar that closes on its line.
fn quoted(line: &[u8], at: usize) -> Option<usize> {
    let quote = line[at];
    let mut i = at + 1;
    while let Some(&b) = line.get(i) {
        if quote == b'"' && b == b'\\' {
            i += 2;
            continue;
        }
        if b == quote {
            // `''` is an escaped quote inside a single-quoted scalar.
            if quote == b'\'' && line.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// The end of a flow collection that closes on its line, no deeper than [`MAX_DEPTH`].
fn flow(line: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = start;
    loop {
        // Between tokens: flow context skips tabs as well as spaces.
        while line.get(at).is_some_and(|&b| is_blank(b)) {
            at += 1;
        }
        let c = *line.get(at)?;
        match c {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return None;
                }
                at += 1;
            }
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                at += 1;
                if depth == 0 {
                    return Some(at);
                }
            }
            // In flow context `?` and `:` are always indicators.
            b',' | b'?' | b':' => at += 1,
            b'"' | b'\'' => at = quoted(line, at)?,
            b'*' => {
                at += 1;
                while line
                    .get(at)
                    .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    at += 1;
                }
            }
            b'-' if blank_or_end(line, at + 1) => return None,
            b'#' | b'&' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`' => return None,
            _ => {
                // A plain scalar: ends at a flow indicator, at `:` before a blank, or before ` #`.
                loop {
                    let b = *line.get(at)?;
                    match b {
                        b',' | b'[' | b']' | b'{' | b'}' => break,
                        b':' => match line.get(at + 1) {
                            None => break,
                            Some(&n) if is_blank(n) => break,
                            // libyaml refuses `:` before a flow indicator inside a plain scalar.
                            Some(b',' | b'?' | b'[' | b']' | b'{' | b'}') => return None,
                            Some(_) => at += 1,
                        },
                        _ if is_blank(b) => {
                            while line.get(at).is_some_and(|&b| is_blank(b)) {
                                at += 1;
                            }
                            if line.get(at) == Some(&b'#') {
                                return None;
                            }
                        }
                        _ => at += 1,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source::new("t.yaml", text.to_owned())
    }

    #[test]
    fn usual_plans_are_recognized_in_one_pass() {
        for text in [
            "version: 1\nname: x\nsteps:\n  - id: a\n    with: { k: \"{{ v }}\", l: [1, 2] }\n",
            "a: |\n  text [[[[\n  more\nb: 'it''s'\n# comment\nc: http://x/a#b # note\n",
            "- - x\n- \"q\": [a, {b: c}]\n--- \nk: >-\n\n   folded\n",
        ] {
            assert!(simple(text), "{text}");
        }
    }

    #[test]
    fn anything_else_takes_the_exact_walk() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: [\n  1]\n",
            "a: \"open\n  quote\"\n",
            "a: plain\n  continued [[[\n",
            "a: !tag x\n",
            "a: |2\n   x\n",
            "a:\tb\n",
        ] {
            assert!(!simple(text), "{text}");
        }
    }

    #[test]
    fn the_exact_walk_refuses_deep_nesting_at_its_first_level_too_many() {
        let text = format!("a: [\n  {}{}]\n", "[".repeat(200_000), "]".repeat(200_000));
        let err = check(&source(&text)).expect_err("too deep");
        assert_eq!(err.code, "yaml.too-deep");
        assert_eq!(err.span.map(|s| s.line), Some(2));
    }

    #[test]
    fn quoted_closers_do_not_hide_nesting() {
        let text = format!("a: {}\n", "[\"]\", ".repeat(100));
        assert!(!simple(&text));
        assert_eq!(
            check(&source(&text)).map_err(|e| e.code),
            Err("yaml.too-deep")
        );
    }

    #[test]
    fn aliases_count_the_nodes_and_levels_they_repeat() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = check(&source(&text)).expect_err("bomb");
        assert_eq!(err.code, "yaml.alias-bomb");
        assert_eq!(err.span.map(|s| s.line), Some(6));

        let deep = format!(
            "a: &a {}x{}\nb: [[[[[[*a]]]]]]\n",
            "[".repeat(60),
            "]".repeat(60)
        );
        let err = check(&source(&deep)).expect_err("deep through an alias");
        assert_eq!(
            (err.code, err.span.map(|s| s.line)),
            ("yaml.too-deep", Some(2))
        );

        let fine = "d: &d {retry: 3, timeout: 5s}\nsteps: [*d, *d, *d]\n";
        assert!(check(&source(fine)).is_ok());
    }

    #[test]
    fn an_alias_inside_its_own_anchor_is_refused() {
        let err = check(&source("a: &a [1, *a]\n")).expect_err("recursive");
        assert_eq!(err.code, "yaml.too-deep");
    }
}
