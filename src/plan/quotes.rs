//! An unclosed quote, shown where it opened.
//!
//! A quoted YAML string may span lines, so a quote left open is not an error where it is
//! written: the parser reads on, taking the next lines into the string, and gives up later
//! (at the next quote, which it takes for the closing one, or at the end of the file). That
//! place says nothing useful. When a syntax error follows a quoted string that ran past its
//! line, the opening quote is the likely mistake, and the diagnostic points there.

use super::source::Source;
use crate::diagnostic::Diagnostic;

/// The diagnostic for a syntax error caused by an unclosed quote, if it was one. `message` is
/// the YAML reader's error text, `line` and `col` (1-based) where it gave up.
pub(super) fn unclosed(
    source: &Source,
    message: &str,
    line: usize,
    col: usize,
) -> Option<Diagnostic> {
    // A string never closed: libyaml names where it started. That quote may itself be the
    // closing quote of an earlier string that ran on to its line.
    let never_closed = started_at(message);
    let (line, col) = never_closed.unwrap_or((line, col));
    if let Some((open_line, open_col, quote)) = runaway(source, line, col) {
        return Some(
            Diagnostic::error(
                "yaml.unclosed-quote",
                format!("the string opened here with `{quote}` is not closed on its line"),
            )
            .at(Some(source.span_at(open_line, open_col, 1)))
            .label(format!(
                "the string runs on to line {line}, where the YAML could not be read"
            ))
            .help(close(quote)),
        );
    }
    let (line, col) = never_closed?;
    let quote = source
        .line_text(line)
        .and_then(|l| l.chars().nth(col.saturating_sub(1)))
        .filter(|c| matches!(c, '"' | '\''))?;
    Some(
        Diagnostic::error(
            "yaml.unclosed-quote",
            format!("the string opened here with `{quote}` is never closed"),
        )
        .at(Some(source.span_at(line, col, 1)))
        .label("the rest of the file was read into this string")
        .help(close(quote)),
    )
}

fn close(quote: char) -> String {
    match quote {
        '"' => {
            "end the string with `\"` on the same line (write a `\"` inside it as `\\\"`)".into()
        }
        _ => "end the string with `'` on the same line (write a `'` inside it as `''`)".into(),
    }
}

/// "…, while scanning a quoted scalar at line L column C": (L, C), 1-based.
fn started_at(message: &str) -> Option<(usize, usize)> {
    let (_, rest) = message.split_once("while scanning a quoted scalar at line ")?;
    let (line, rest) = rest.split_once(" column ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.parse().ok()?, column.parse().ok()?))
}

/// How far above the line the reader gave up on an opening quote is looked for.
const LOOKBACK: usize = 50;

/// A string that opened on an earlier line and ran on to `line`, where its closing quote comes
/// before `col` (1-based): where it opened (1-based line and column), and its quote.
///
/// Read from the text: a parser reads such a string without complaint (a quoted string may
/// span lines), and saphyr refuses its indentation before it reports the string at all.
fn runaway(source: &Source, line: usize, col: usize) -> Option<(usize, usize, char)> {
    let text = source.line_text(line)?;
    let before: Vec<char> = text.chars().take(col.saturating_sub(1)).collect();
    for quote in ['"', '\''] {
        if quotes(&before, quote).is_empty() {
            continue;
        }
        // The lines between hold no quote of this kind; the first one above that does left
        // one open, at a place where a value starts.
        for above in (line.saturating_sub(LOOKBACK).max(1)..line).rev() {
            let chars: Vec<char> = source.line_text(above)?.chars().collect();
            let found = quotes(&chars, quote);
            let Some(&last) = found.last() else {
                continue;
            };
            let opens_a_value = chars[..last]
                .iter()
                .rev()
                .find(|c| !c.is_whitespace())
                .is_none_or(|c| matches!(c, ':' | '-' | '[' | '{' | ',' | '?'));
            if found.len() % 2 == 1 && opens_a_value {
                return Some((above, last + 1, quote));
            }
            break;
        }
    }
    None
}

/// The positions (0-based) of the quotes of a line that open or close a string: `\"` inside
/// a double-quoted string and `''` inside a single-quoted one are not.
fn quotes(chars: &[char], quote: char) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if quote == '"' && c == '\\' {
            i += 2;
            continue;
        }
        if quote == '\'' && c == '\'' && chars.get(i + 1) == Some(&'\'') && found.len() % 2 == 1 {
            i += 2;
            continue;
        }
        if c == quote {
            found.push(i);
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_of_a_string_never_closed_is_read_from_the_message() {
        assert_eq!(
            started_at(
                "found unexpected end of stream at line 23 column 1, while scanning a quoted scalar at line 12 column 18"
            ),
            Some((12, 18))
        );
        assert_eq!(
            started_at("did not find expected key at line 3 column 1"),
            None
        );
    }

    #[test]
    fn a_string_closed_by_the_next_ones_quote_is_found_where_it_opened() {
        let source = Source::new("t.yaml", "a:\n  b: \"one\n  c: \"two\"\n".to_owned());
        // libyaml gives up at the end, in the string the second `"` opens.
        assert_eq!(runaway(&source, 3, 9), Some((2, 6, '"')));
    }

    #[test]
    fn a_string_that_spans_lines_on_purpose_is_not_blamed_for_a_later_error() {
        let source = Source::new("t.yaml", "a: 'one\n  two'\nb: \"x\"\n  c: 1\n".to_owned());
        assert_eq!(runaway(&source, 4, 3), None);
        let source = Source::new("t.yaml", "a: it's\nb: 'x' y\n".to_owned());
        assert_eq!(runaway(&source, 2, 9), None);
    }
}
