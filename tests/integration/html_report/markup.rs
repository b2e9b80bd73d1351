//! The HTML page as a browser lays it out, read from its markup: its elements, the timeline's
//! bars with their place on the track, and the stylesheet's `z-index` of each outcome; and the
//! checks every timeline must pass ([`checked_bars`]).

use callplan::report::html::MIN_WIDTH;

/// An element of a page: its name, its attributes and the element it is in.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: std::collections::BTreeMap<String, String>,
    parent: Option<usize>,
}

impl Element {
    fn attr(&self, name: &str) -> &str {
        self.attrs.get(name).map_or("", String::as_str)
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class").split(' ').any(|c| c == class)
    }
}

/// Parses the page into its elements (in document order) and the text of its stylesheet. The
/// page quotes every attribute and escapes its text, so an XML tokenizer reads it, once told
/// that HTML's void elements have no end tag.
fn parse_html(page: &str) -> (Vec<Element>, String) {
    use quick_xml::events::{BytesStart, Event};
    const VOID: [&str; 7] = ["meta", "col", "br", "hr", "img", "input", "link"];
    let element = |start: &BytesStart<'_>, parent: Option<usize>| Element {
        name: String::from_utf8_lossy(start.name().as_ref()).into_owned(),
        attrs: start
            .attributes()
            .map(|a| {
                let a = a.expect("a well-formed attribute");
                let value = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .expect("an attribute value")
                    .into_owned();
                (String::from_utf8_lossy(a.key.as_ref()).into_owned(), value)
            })
            .collect(),
        parent,
    };
    let mut reader = quick_xml::Reader::from_str(page);
    reader.config_mut().check_end_names = false;
    let (mut elements, mut open, mut css) =
        (Vec::<Element>::new(), Vec::<usize>::new(), String::new());
    loop {
        match reader.read_event().expect("a well-formed page") {
            Event::Start(start) => {
                let e = element(&start, open.last().copied());
                let void = VOID.contains(&e.name.as_str());
                elements.push(e);
                if !void {
                    open.push(elements.len() - 1);
                }
            }
            Event::Empty(start) => elements.push(element(&start, open.last().copied())),
            Event::End(end) => {
                let name = String::from_utf8_lossy(end.name().as_ref()).into_owned();
                let at = open.pop().expect("an open element");
                assert_eq!(elements[at].name, name, "tags nest");
            }
            Event::Text(text) if open.last().is_some_and(|&at| elements[at].name == "style") => {
                css.push_str(&text.xml10_content().expect("text"));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "every element is closed");
    (elements, css)
}

/// A bar of the timeline, as the page places it.
#[derive(Debug)]
pub(super) struct Bar {
    /// Its outcome: `passed`, `failed`, `errored`, `skipped`.
    pub(super) outcome: String,
    pub(super) ignored: bool,
    /// The details row it links to.
    pub(super) href: String,
    /// Left edge and width, in thousandths of a percent of the track.
    pub(super) left: u32,
    pub(super) width: u32,
    /// Its lane's offset in a row of lanes, in pixels.
    pub(super) top: Option<f64>,
    /// The timeline row it is in (an element's index) and whether that is a row of lanes.
    pub(super) row: usize,
    pub(super) lanes: bool,
}

/// `12.345%` in thousandths of a percent.
fn thousandths(value: &str) -> u32 {
    let number: f64 = value
        .strip_suffix('%')
        .and_then(|v| v.parse().ok())
        .expect("a percentage");
    (number * 1_000.0).round() as u32
}

fn bars(elements: &[Element]) -> Vec<Bar> {
    let row_of = |mut at: usize| loop {
        at = elements[at].parent.expect("a bar is in a timeline row");
        if elements[at].name == "div" && elements[at].has_class("row") {
            return at;
        }
    };
    elements
        .iter()
        .enumerate()
        .filter(|(_, e)| e.name == "a" && e.has_class("bar"))
        .map(|(at, e)| {
            let style: std::collections::BTreeMap<&str, &str> = e
                .attr("style")
                .split(';')
                .filter_map(|d| d.split_once(':'))
                .collect();
            let row = row_of(at);
            Bar {
                outcome: e
                    .attr("class")
                    .split(' ')
                    .find_map(|c| c.strip_prefix("o-"))
                    .expect("an outcome class")
                    .to_owned(),
                ignored: e.has_class("ignored"),
                href: e.attr("href").to_owned(),
                left: thousandths(style["left"]),
                width: thousandths(style["width"]),
                top: style
                    .get("top")
                    .map(|t| t.trim_end_matches("px").parse().expect("pixels")),
                row,
                lanes: elements[row].has_class("many"),
            }
        })
        .collect()
}

/// The `z-index` the stylesheet gives `selector`'s rule.
fn z_index(css: &str, selector: &str) -> i32 {
    let rule = &css[css
        .find(&format!("\n{selector}{{"))
        .or_else(|| css.find(&format!("}}{selector}{{")).map(|at| at + 1))
        .expect("a rule for the selector")..];
    let rule = &rule[..rule.find('}').expect("the rule's end")];
    let at = rule.find("z-index:").expect("the rule has a z-index");
    rule[at + 8..]
        .split([';', '}'])
        .next()
        .and_then(|z| z.parse().ok())
        .expect("a z-index")
}

/// How far above the others a bar must be drawn.
fn severity(bar: &Bar) -> u8 {
    match bar.outcome.as_str() {
        _ if bar.ignored => 2,
        "failed" => 3,
        "errored" => 4,
        _ => 0,
    }
}

/// Checks what the page promises of its timeline, and returns its bars: every bar lies inside
/// its track and is at least the minimum width; failures are drawn above passes (a higher
/// `z-index`; in a row of lanes, after the passes in the markup and in the top lane).
pub(super) fn checked_bars(page: &str) -> Vec<Bar> {
    let (elements, css) = parse_html(page);
    let bars = bars(&elements);
    for bar in &bars {
        assert!(
            bar.left + bar.width <= 100_000,
            "a bar runs off the track's right end: {bar:?}"
        );
        assert!(
            bar.width >= MIN_WIDTH,
            "a bar narrower than the minimum: {bar:?}"
        );
    }
    // On the page: each bar at least `--min-bar` pixels, and that much room kept free at the
    // right of each track's drawing area, so that the minimum never overflows.
    let rule = |selector: &str| {
        let at = css
            .find(&format!("\n{selector}{{"))
            .expect("a rule for the selector");
        &css[at..at + css[at..].find('}').expect("the rule's end")]
    };
    assert!(rule(".bar").contains("min-width:var(--min-bar)"));
    assert!(rule(".area").contains("right:var(--min-bar)"));
    assert!(css.contains("--min-bar:8px"));
    // Errors over failures over ignored failures over passes and skips.
    let base = z_index(&css, ".bar");
    let ignored = z_index(&css, ".bar.ignored");
    let failed = z_index(&css, ".bar.o-failed");
    let errored = z_index(&css, ".bar.o-errored");
    assert!(base < ignored && ignored < failed && failed < errored);
    // The words beside or inside a bar (its duration, FAILED) are above every bar.
    assert!(z_index(&css, ".note") > errored);
    for (row, in_row) in group_by_row(&bars) {
        if !in_row[0].lanes {
            continue;
        }
        let order: Vec<u8> = in_row.iter().map(|b| severity(b)).collect();
        assert!(
            order.windows(2).all(|w| w[0] <= w[1]),
            "row {row}: a failure is written before a pass, which would cover it: {order:?}"
        );
        let top = |bars: &mut dyn Iterator<Item = &&Bar>| {
            bars.filter_map(|b| b.top).fold(f64::MAX, f64::min)
        };
        let failures = top(&mut in_row.iter().filter(|b| severity(b) > 0));
        if failures < f64::MAX {
            assert_eq!(
                failures,
                top(&mut in_row.iter()),
                "failures take the top lane"
            );
        }
    }
    bars
}

pub(super) fn group_by_row(bars: &[Bar]) -> std::collections::BTreeMap<usize, Vec<&Bar>> {
    let mut rows = std::collections::BTreeMap::<usize, Vec<&Bar>>::new();
    for bar in bars {
        rows.entry(bar.row).or_default().push(bar);
    }
    rows
}

/// The bar that links to `anchor`.
pub(super) fn bar_to<'b>(bars: &'b [Bar], anchor: &str) -> &'b Bar {
    let href = format!("#{anchor}");
    let found: Vec<&Bar> = bars.iter().filter(|b| b.href == href).collect();
    assert_eq!(found.len(), 1, "one bar links to {anchor}");
    found[0]
}
