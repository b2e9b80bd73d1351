//! Templates and expressions: the minijinja environment (strict: an undefined name is an error),
//! the filters and functions plans use, and the static checks `check` runs on every template.

use std::collections::BTreeSet;

use base64::Engine as _;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};

/// True when a string contains template syntax and must be rendered.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// The environment every template and expression of a plan is compiled in.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Templates render values for requests, not HTML.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_filter("e164", e164);
    env.add_filter("b64encode", b64encode);
    env.add_function("uuid", uuid);
    env.add_function("now", now);
    env
}

/// Normalizes a phone number to E.164 (`+13175550100`); numbers without a `+` are read as NANP
/// (`+1`). Fails on a number that is not valid.
fn e164(value: &Value) -> Result<String, Error> {
    let text = value.to_string();
    crate::phone::normalize(&text).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("`{text}` is not a valid phone number"),
        )
    })
}

/// The largest value `b64encode` encodes. Each pass grows a value by a third, so a chain of
/// them (`x | b64encode | b64encode | …`) would otherwise grow without bound.
pub const MAX_B64_INPUT: usize = 8 * 1024 * 1024;

fn b64encode(value: &Value) -> Result<String, Error> {
    let bytes = match value.as_bytes() {
        Some(b) => b.to_vec(),
        None => value.to_string().into_bytes(),
    };
    if bytes.len() > MAX_B64_INPUT {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "b64encode takes at most {} MiB; this value is {} bytes",
                MAX_B64_INPUT / (1024 * 1024),
                bytes.len()
            ),
        ));
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// What is wrong with a template or expression, found without rendering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// It does not parse. `snippet` is the text the parser stopped at, when known.
    Syntax {
        /// The parser's message.
        message: String,
        /// The offending text, to locate it in the file.
        snippet: Option<String>,
    },
    /// It uses a filter, function or test that does not exist.
    Unknown {
        /// The parser's message.
        message: String,
        /// The unknown name.
        name: Option<String>,
    },
}

/// A compiled template's or expression's names, as dotted paths (`steps.dial.conversation_id`),
/// with the environment's own globals (`uuid`, `range`, …) left out.
pub type Names = BTreeSet<String>;

/// Operators, filters, lookups and calls a template or expression may hold in all.
///
/// minijinja parses a chain of them (`a ~ a ~ …`, `x | f | f …`, `a.b.c…`) into a tree as deep
/// as the chain is long, and walks that tree recursively: a few thousand overflow the stack (in
/// `Expr::as_const` when compiling). Counting every operator character and word of the text is
/// more than the longest chain can be, so staying under this keeps any chain short; real
/// templates hold a few dozen.
pub const MAX_OPERATORS: usize = 512;

fn operators(text: &str) -> usize {
    let symbols = text
        .bytes()
        .filter(|b| b"~+-*/%|.[(<>=!".contains(b))
        .count();
    let words = text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| matches!(*w, "and" | "or" | "not" | "in" | "is" | "if" | "else"))
        .count();
    symbols + words
}

fn too_complex(text: &str) -> Result<(), Problem> {
    if operators(text) > MAX_OPERATORS {
        return Err(Problem::Syntax {
            message: format!(
                "the template holds more than {MAX_OPERATORS} operators, filters and lookups; split it into several values"
            ),
            snippet: None,
        });
    }
    Ok(())
}

/// Checks a template (`{{ … }}` text) and returns the names it reads.
pub fn check_template(env: &Environment<'static>, text: &str) -> Result<Names, Problem> {
    too_complex(text)?;
    let template = env.template_from_str(text).map_err(|e| syntax(&e, text))?;
    let names = without_globals(env, template.undeclared_variables(true));
    probe(text, false)?;
    Ok(names)
}

/// Checks an expression (`response.status == 200`) and returns the names it reads.
pub fn check_expression(env: &Environment<'static>, text: &str) -> Result<Names, Problem> {
    too_complex(text)?;
    let expr = env.compile_expression(text).map_err(|e| syntax(&e, text))?;
    let names = without_globals(env, expr.undeclared_variables(true));
    probe(text, true)?;
    Ok(names)
}

fn without_globals(env: &Environment<'static>, names: std::collections::HashSet<String>) -> Names {
    names
        .into_iter()
        .filter(|n| {
            let root = n.split('.').next().unwrap_or(n);
            !env.globals().any(|(name, _)| name == root)
        })
        .collect()
}

/// Filters, functions and tests are looked up when a template runs, not when it compiles. To find
/// an unknown one before anything is sent, evaluate the text once with every name undefined but
/// chainable: the only errors that matter then are "unknown filter/function/test".
fn probe(text: &str, expression: bool) -> Result<(), Problem> {
    if !text.contains('|') && !text.contains('(') && !text.contains(" is ") {
        return Ok(());
    }
    // Built once: cloning an environment copies every filter and test.
    static LENIENT: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    let lenient = LENIENT.get_or_init(|| {
        let mut lenient = environment();
        lenient.set_undefined_behavior(UndefinedBehavior::Chainable);
        lenient
    });
    let result = if expression {
        lenient
            .compile_expression(text)
            .and_then(|e| e.eval(()).map(|_| ()))
    } else {
        lenient
            .template_from_str(text)
            .and_then(|t| t.render(()).map(|_| ()))
    };
    match result {
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnknownFilter | ErrorKind::UnknownFunction | ErrorKind::UnknownTest
            ) =>
        {
            let name = e.range().and_then(|r| text.get(r)).map(|s| s.to_owned());
            Err(Problem::Unknown {
                message: message_of(&e),
                name,
            })
        }
        _ => Ok(()),
    }
}

fn syntax(e: &Error, text: &str) -> Problem {
    Problem::Syntax {
        message: message_of(e),
        snippet: e.range().and_then(|r| text.get(r)).map(|s| s.to_owned()),
    }
}

/// The error's message without minijinja's "(in <string>:1)" suffix: positions come from the plan.
fn message_of(e: &Error) -> String {
    let kind = e.kind().to_string();
    match e.detail() {
        Some(detail) => format!("{kind}: {detail}"),
        None => kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `b64encode` stops at the size limit instead of growing without bound.
    #[test]
    fn a_b64encode_chain_is_bounded() {
        let env = environment();
        let chain = format!("\"passed\"{}", " | b64encode".repeat(100));
        let err = env
            .compile_expression(&chain)
            .expect("compiles")
            .eval(())
            .expect_err("refused");
        assert!(err.to_string().contains("at most 8 MiB"), "{err}");
        let once = env.compile_expression("'a' | b64encode").expect("compiles");
        assert_eq!(once.eval(()).expect("encodes").to_string(), "YQ==");
    }

    #[test]
    fn reports_nested_names_without_globals() {
        let env = environment();
        let names = check_template(
            &env,
            "{{ steps.dial.id }}-{{ vars.x | upper }}-{{ uuid() }}",
        )
        .expect("valid");
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            vec!["steps.dial.id".to_owned(), "vars.x".to_owned()]
        );
    }

    #[test]
    fn reports_syntax_errors() {
        let env = environment();
        match check_template(&env, "{{ vars.x ") {
            Err(Problem::Syntax { message, .. }) => assert!(message.contains("syntax error")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn finds_unknown_filters() {
        let env = environment();
        match check_template(&env, "{{ vars.x | e146 }}") {
            Err(Problem::Unknown { message, .. }) => {
                assert!(message.contains("filter"), "{message}")
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(check_expression(&env, "response.status == 200").is_ok());
    }

    #[test]
    fn refuses_operator_chains_that_would_overflow_the_stack() {
        let env = environment();
        let chain = format!("{{{{ {} }}}}", vec!["vars.a"; 40_000].join(" ~ "));
        match check_template(&env, &chain) {
            Err(Problem::Syntax { message, .. }) => assert!(message.contains("more than 512")),
            other => panic!("unexpected {other:?}"),
        }
        let expression = vec!["1"; 10_000].join(" + ");
        assert!(check_expression(&env, &expression).is_err());
        let long_but_plain = format!("{{{{ vars.a }}}} {}", "text ".repeat(10_000));
        assert!(check_template(&env, &long_but_plain).is_ok());
    }
}
