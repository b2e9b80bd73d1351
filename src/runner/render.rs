//! Rendering templates and evaluating expressions against a run's context.
//!
//! The context holds `vars`, `secrets`, `steps` (each step's saved values and `outcome`), `run`,
//! and, where they apply, `response`, `loop` and the `for_each` item. Every distinct template or
//! expression is compiled once per run. A string that is exactly one `{{ expression }}` renders
//! to the expression's own value (a number stays a number, a list a list); any other template
//! renders to text.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Environment, Expression, Template, Value};

use crate::placeholder::{Planned, Planner};

/// Every earlier step's results, readable as `steps.<id>.<name>` while the run adds more. A
/// flow's row has its own, which falls back to the plan's: a row's steps read the steps before
/// them in the row, and every step before the flow.
#[derive(Debug, Default)]
pub struct Steps {
    values: RwLock<BTreeMap<String, Value>>,
    outer: Option<Arc<Steps>>,
}

impl Steps {
    /// A row's values, over the plan's.
    pub fn within(outer: Arc<Steps>) -> Steps {
        Steps {
            values: RwLock::default(),
            outer: Some(outer),
        }
    }

    /// Records (or replaces) a step's values.
    pub fn set(&self, id: &str, values: Value) {
        self.values
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned(), values);
    }

    /// A step's values.
    pub fn get(&self, id: &str) -> Option<Value> {
        let own = self
            .values
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned();
        own.or_else(|| self.outer.as_ref().and_then(|o| o.get(id)))
    }

    /// The ids it knows, the plan's included.
    fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.outer.as_ref().map(|o| o.ids()).unwrap_or_default();
        ids.extend(
            self.values
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .keys()
                .cloned(),
        );
        ids.sort();
        ids.dedup();
        ids
    }
}

impl Object for Steps {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get(key.as_str()?)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys: Vec<Value> = self.ids().into_iter().map(Value::from).collect();
        Enumerator::Values(keys)
    }
}

/// A JSON document seen by templates without converting it: members are looked up, and
/// converted, only when a template reads them (a response body can be large, and most steps
/// read one or two fields of it).
#[derive(Debug)]
pub struct Json {
    root: Arc<serde_json::Value>,
    path: Vec<Step>,
}

/// One step down a JSON document.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

impl Json {
    /// The whole document.
    pub fn value(root: serde_json::Value) -> Value {
        Json::at(Arc::new(root), Vec::new())
    }

    fn at(root: Arc<serde_json::Value>, path: Vec<Step>) -> Value {
        let node = {
            let mut node = &*root;
            for step in &path {
                node = match (node, step) {
                    (serde_json::Value::Object(m), Step::Key(k)) => &m[k],
                    (serde_json::Value::Array(a), Step::Index(i)) => &a[*i],
                    _ => return Value::UNDEFINED,
                };
            }
            node
        };
        match node {
            serde_json::Value::Null => Value::from(()),
            serde_json::Value::Bool(b) => Value::from(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::from(i)
                } else if let Some(u) = n.as_u64() {
                    Value::from(u)
                } else {
                    Value::from(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::from(s.as_str()),
            serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                Value::from_object(Json { root, path })
            }
        }
    }

    fn node(&self) -> &serde_json::Value {
        let mut node = &*self.root;
        for step in &self.path {
            node = match (node, step) {
                (serde_json::Value::Object(m), Step::Key(k)) => {
                    m.get(k).unwrap_or(&serde_json::Value::Null)
                }
                (serde_json::Value::Array(a), Step::Index(i)) => {
                    a.get(*i).unwrap_or(&serde_json::Value::Null)
                }
                _ => &serde_json::Value::Null,
            };
        }
        node
    }

    fn child(&self, step: Step) -> Value {
        let mut path = self.path.clone();
        path.push(step);
        Json::at(self.root.clone(), path)
    }
}

impl Object for Json {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.node() {
            serde_json::Value::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.node() {
            serde_json::Value::Object(m) => {
                let key = key.as_str()?;
                m.contains_key(key)
                    .then(|| self.child(Step::Key(key.to_owned())))
            }
            serde_json::Value::Array(a) => {
                let index = key.as_i64()?;
                let index = if index < 0 {
                    a.len().checked_sub(index.unsigned_abs() as usize)?
                } else {
                    index as usize
                };
                (index < a.len()).then(|| self.child(Step::Index(index)))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.node() {
            serde_json::Value::Object(m) => {
                Enumerator::Values(m.keys().map(|k| Value::from(k.as_str())).collect())
            }
            serde_json::Value::Array(a) => Enumerator::Seq(a.len()),
            _ => Enumerator::Empty,
        }
    }
}

/// `response` as templates see it: the answer's parts, shared rather than copied.
#[derive(Debug)]
pub struct ResponseView {
    /// `response.status`.
    pub status: u16,
    /// `response.headers` (looked up in any letter case).
    pub headers: Arc<reqwest::header::HeaderMap>,
    /// `response.body`.
    pub body: Arc<serde_json::Value>,
    /// `response.elapsed_ms`.
    pub elapsed_ms: u64,
    /// `response.call`.
    pub call: Option<Arc<serde_json::Value>>,
}

const RESPONSE_FIELDS: &[&str] = &["status", "headers", "body", "elapsed_ms", "call"];

impl Object for ResponseView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "status" => Value::from(self.status),
            "headers" => Value::from_object(Headers(self.headers.clone())),
            "body" => Json::at(self.body.clone(), Vec::new()),
            "elapsed_ms" => Value::from(self.elapsed_ms),
            "call" => match &self.call {
                Some(call) => Json::at(call.clone(), Vec::new()),
                None => Value::from(()),
            },
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(RESPONSE_FIELDS)
    }
}

/// Response headers as a map (names in lowercase; a name repeated reads as its first value),
/// read from the answer's own header map.
#[derive(Debug)]
struct Headers(Arc<reqwest::header::HeaderMap>);

impl Object for Headers {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        // Any letter case: the map's lookup lowercases the name.
        let value = self.0.get(key.as_str()?)?;
        Some(Value::from(String::from_utf8_lossy(value.as_bytes())))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.0
                .iter()
                .map(|(k, _)| Value::from(k.as_str()))
                .collect(),
        )
    }
}

/// What a step's templates and expressions see: the run's values (`vars`, `secrets`, `run`,
/// `steps`) and, where they apply, a row's own `steps`, the `for_each` item, `loop` and
/// `response`. Built once per item and looked up by name: nothing is copied into a map, and
/// adding `response` for the expectations shares the rest.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The run's values, the same for every step.
    base: Arc<BTreeMap<String, Value>>,
    /// A row's `steps` (over the plan's).
    steps: Option<Value>,
    /// The `for_each` item (or the row's) under its name, with its index from 0.
    item: Option<(Arc<str>, Value, usize)>,
    /// The answer, for `expect` and `save`.
    response: Option<Value>,
}

impl Scope {
    /// The run's values only (a step without `for_each`).
    pub fn new(base: Arc<BTreeMap<String, Value>>) -> Scope {
        Scope {
            base,
            steps: None,
            item: None,
            response: None,
        }
    }

    /// A row's own `steps`.
    pub fn with_steps(mut self, steps: Arc<Steps>) -> Scope {
        self.steps = Some(Value::from_dyn_object(steps));
        self
    }

    /// The item `name` (`loop.index0` is `index`).
    pub fn with_item(mut self, name: &str, index: usize, item: Value) -> Scope {
        self.item = Some((Arc::from(name), item, index));
        self
    }

    /// The same, plus `response`.
    pub fn with_response(&self, response: ResponseView) -> Value {
        Value::from_object(Scope {
            response: Some(Value::from_object(response)),
            ..self.clone()
        })
    }

    /// As a template context.
    pub fn value(&self) -> Value {
        Value::from_object(self.clone())
    }
}

impl Object for Scope {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        // Later parts hide earlier ones of the same name, as a map built in this order would.
        if key == "response" && self.response.is_some() {
            return self.response.clone();
        }
        if let Some((name, item, index)) = &self.item {
            if key == "loop" {
                return Some(Value::from_object(Loop(*index)));
            }
            if key == &**name {
                return Some(item.clone());
            }
        }
        if key == "steps"
            && let Some(steps) = &self.steps
        {
            return Some(steps.clone());
        }
        self.base.get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<&str> = self.base.keys().map(String::as_str).collect();
        if let Some((name, ..)) = &self.item {
            keys.extend(["loop", &**name]);
        }
        if self.response.is_some() {
            keys.push("response");
        }
        keys.sort_unstable();
        keys.dedup();
        Enumerator::Values(keys.into_iter().map(Value::from).collect())
    }
}

/// `loop` of a `for_each` item: `index` (from 1), `index0`, `first`.
#[derive(Debug)]
struct Loop(usize);

const LOOP_FIELDS: &[&str] = &["index", "index0", "first"];

impl Object for Loop {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "index" => Value::from(self.0 + 1),
            "index0" => Value::from(self.0),
            "first" => Value::from(self.0 == 0),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(LOOP_FIELDS)
    }
}

/// What went wrong rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError(pub String);

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn error(source: &str, e: &minijinja::Error) -> RenderError {
    let mut message = e.kind().to_string();
    if let Some(detail) = e.detail() {
        message = format!("{message}: {detail}");
    }
    RenderError(format!("`{source}`: {message}"))
}

/// The compiled templates and expressions of one run.
pub struct Renderer {
    env: &'static Environment<'static>,
    templates: Mutex<HashMap<String, Template<'static, 'static>>>,
    expressions: Mutex<HashMap<String, Arc<Expression<'static, 'static>>>>,
    /// A dry run's: what only a run knows renders as a placeholder (see [`crate::placeholder`]).
    planner: Option<Planner>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer")
    }
}

impl Default for Renderer {
    fn default() -> Renderer {
        Renderer::new()
    }
}

/// `prefix{{ name }}suffix`, rendered without the template engine when `name` is a plain name
/// the context holds as a string or an integer: the text minijinja writes for it (no escaping,
/// no formatter in callplan's environment), for the price of a lookup. Every `for_each` item
/// renders a path like `/items/{{ item }}`. `None` sends anything else to minijinja: filters,
/// dots, whitespace control, any other brace in the text, a trailing line break (minijinja drops
/// one), and every other kind of value, an undefined name included (whose error minijinja
/// words).
fn substituted(source: &str, context: &Value) -> Option<String> {
    let open = source.find("{{")?;
    let close = open + source[open..].find("}}")?;
    let (prefix, inner, suffix) = (
        &source[..open],
        &source[open + 2..close],
        &source[close + 2..],
    );
    let name = inner.trim();
    let plain = |text: &str| !text.contains(['{', '}']);
    let identifier = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier || !plain(prefix) || !plain(suffix) || suffix.ends_with('\n') {
        return None;
    }
    let value = context.get_attr(name).ok()?;
    let shown = value.as_str().is_some() || value.is_integer();
    shown.then(|| format!("{prefix}{value}{suffix}"))
}

/// The expression inside a string that is exactly one `{{ … }}`.
fn sole_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%"))
        .then_some(inner.trim())
}

impl Renderer {
    /// A renderer with callplan's environment (strict undefined, the plan filters).
    pub fn new() -> Renderer {
        // One environment per process run: templates compiled against it live as long as it.
        let env: &'static Environment<'static> =
            Box::leak(Box::new(crate::template::environment()));
        Renderer {
            env,
            templates: Mutex::new(HashMap::new()),
            expressions: Mutex::new(HashMap::new()),
            planner: None,
        }
    }

    /// A dry run's renderer: every template part that reads what only a run knows (saved
    /// values, outcomes, secrets, the run's id, and the `extra` names) renders as a placeholder.
    pub fn planned(extra: Vec<String>) -> Renderer {
        Renderer {
            planner: Some(Planner::new(extra)),
            ..Renderer::new()
        }
    }

    /// Whether this is a dry run's renderer (see [`Renderer::planned`]).
    pub fn is_planned(&self) -> bool {
        self.planner.is_some()
    }

    /// Whether a dry run cannot decide an expression (an `if` that reads an outcome); always
    /// false when the plan runs.
    pub fn undecided(&self, expression: &str) -> bool {
        self.planner
            .as_ref()
            .is_some_and(|p| p.undecided(expression))
    }

    fn expression(&self, source: &str) -> Result<Arc<Expression<'static, 'static>>, RenderError> {
        let mut cache = self
            .expressions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(compiled) = cache.get(source) {
            return Ok(compiled.clone());
        }
        let compiled = Arc::new(
            self.env
                .compile_expression_owned(source.to_owned())
                .map_err(|e| error(source, &e))?,
        );
        cache.insert(source.to_owned(), compiled.clone());
        Ok(compiled)
    }

    fn template(&self, source: &str) -> Result<Template<'static, 'static>, RenderError> {
        let mut cache = self
            .templates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(compiled) = cache.get(source) {
            return Ok(compiled.clone());
        }
        // Templates come from the plan, not from data: a bounded set, kept for the run.
        let leaked: &'static str = Box::leak(source.to_owned().into_boxed_str());
        let compiled = self
            .env
            .template_from_str(leaked)
            .map_err(|e| error(source, &e))?;
        cache.insert(source.to_owned(), compiled.clone());
        Ok(compiled)
    }

    /// Evaluates an expression (`if`, `expect`).
    pub fn eval(&self, source: &str, context: &Value) -> Result<Value, RenderError> {
        self.expression(source)?
            .eval(context.clone())
            .map_err(|e| error(source, &e))
    }

    /// Renders a string: a sole `{{ expression }}` keeps its value's type, other templates give
    /// text, plain strings stay as they are.
    pub fn render_str(&self, source: &str, context: &Value) -> Result<Value, RenderError> {
        if !crate::template::is_template(source) {
            return Ok(Value::from(source));
        }
        match self.planner.as_ref().map(|p| p.plan(source)) {
            None | Some(Planned::Known) => self.render_known(source, context),
            Some(Planned::Whole(placeholder)) => Ok(Value::from(placeholder)),
            Some(Planned::Rewritten(text)) => self.render_known(&text, context),
        }
    }

    /// Renders a template every name of which the context holds.
    fn render_known(&self, source: &str, context: &Value) -> Result<Value, RenderError> {
        if !crate::template::is_template(source) {
            return Ok(Value::from(source));
        }
        if let Some(expression) = sole_expression(source) {
            let value = self.eval(expression, context)?;
            // Strict, as the same expression inside a longer template is: a name that does not
            // exist (a value a failed step never saved) is an error, not a silent null.
            if value.is_undefined() {
                let undefined = minijinja::Error::from(minijinja::ErrorKind::UndefinedError);
                return Err(error(source, &undefined));
            }
            return Ok(value);
        }
        if let Some(text) = substituted(source, context) {
            return Ok(Value::from(text));
        }
        self.template(source)?
            .render(context.clone())
            .map(Value::from)
            .map_err(|e| error(source, &e))
    }

    /// Renders every string inside a JSON value.
    pub fn render_json(
        &self,
        value: &serde_json::Value,
        context: &Value,
    ) -> Result<serde_json::Value, RenderError> {
        Ok(match value {
            serde_json::Value::String(s) => to_json(&self.render_str(s, context)?)?,
            serde_json::Value::Array(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|v| self.render_json(v, context))
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_json(v, context)?)))
                    .collect::<Result<_, RenderError>>()?,
            ),
            other => other.clone(),
        })
    }

    /// The `steps.<id>.<name>` values a template or expression reads, as `(id, name)`.
    pub fn step_reads(&self, source: &str, expression: bool) -> Vec<(String, String)> {
        let names = if expression {
            self.expression(source)
                .map(|e| e.undeclared_variables(true))
                .unwrap_or_default()
        } else if crate::template::is_template(source) {
            self.template(source)
                .map(|t| t.undeclared_variables(true))
                .unwrap_or_default()
        } else {
            return Vec::new();
        };
        let mut reads: Vec<(String, String)> = names
            .iter()
            .filter_map(|path| {
                let mut parts = path.strip_prefix("steps.")?.splitn(3, '.');
                let id = parts.next()?;
                let name = parts.next()?;
                Some((id.to_owned(), name.to_owned()))
            })
            .collect();
        reads.sort();
        reads
    }

    /// Renders a string to text (URLs, headers, credentials).
    pub fn render_text(&self, source: &str, context: &Value) -> Result<String, RenderError> {
        let value = self.render_str(source, context)?;
        Ok(match value.as_str() {
            Some(s) => s.to_owned(),
            None => value.to_string(),
        })
    }
}

/// Any serializable value as a template value.
pub fn value<T: serde::Serialize>(v: T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// A template value as JSON.
pub fn to_json(value: &Value) -> Result<serde_json::Value, RenderError> {
    if value.is_undefined() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::to_value(value).map_err(|e| RenderError(format!("cannot use the value: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A template rendered without minijinja gives exactly what minijinja gives, and the ones
    /// it cannot take go to minijinja.
    #[test]
    fn a_plain_substitution_renders_as_minijinja_does() {
        let renderer = Renderer::new();
        let context = value(serde_json::json!({
            "item": 42, "name": "Ada <b>&", "neg": -7,
            "float": 1.0, "yes": true, "none": null, "list": [1, 2], "map": {"a": 1},
        }));
        let taken = [
            "/items/{{ item }}",
            "/items/{{item}}",
            "{{ name }} and more",
            "x{{ neg }}y",
            "/a/{{ name }}/b",
        ];
        for source in taken {
            let engine = renderer
                .template(source)
                .unwrap()
                .render(context.clone())
                .unwrap();
            assert_eq!(
                substituted(source, &context).as_deref(),
                Some(engine.as_str()),
                "{source}"
            );
            assert_eq!(
                renderer.render_known(source, &context).unwrap().as_str(),
                Some(engine.as_str())
            );
        }
        let left = [
            "/items/{{ float }}",
            "{{ yes }}!",
            "{{ none }}.",
            "[{{ list }}]",
            "a {{ map }}",
            "/items/{{ item | string }}",
            "/items/{{ item.id }}",
            "/items/{{- item }}",
            "{ {{ item }}",
            "a{{ item }}\n",
            "{{ item }}{{ item }}",
            "{% if true %}{{ item }}{% endif %}",
            "/items/{{ missing }}",
        ];
        for source in left {
            assert_eq!(substituted(source, &context), None, "{source}");
            let engine = renderer.template(source).unwrap().render(context.clone());
            let ours = renderer.render_known(source, &context);
            match engine {
                Ok(text) => assert_eq!(ours.unwrap().as_str(), Some(text.as_str()), "{source}"),
                Err(_) => assert!(ours.is_err(), "{source}"),
            }
        }
    }

    fn context() -> Value {
        let steps = Arc::new(Steps::default());
        steps.set(
            "dial",
            value(serde_json::json!({ "outcome": "passed", "id": "c-1" })),
        );
        minijinja::context! {
            vars => value(serde_json::json!({ "skill": 4000123, "n": "+13175550100" })),
            steps => Value::from_dyn_object(steps),
        }
    }

    #[test]
    fn a_sole_expression_keeps_its_type() {
        let r = Renderer::new();
        let cx = context();
        assert_eq!(
            r.render_json(&serde_json::json!("{{ vars.skill }}"), &cx)
                .unwrap(),
            serde_json::json!(4000123)
        );
        assert_eq!(
            r.render_json(&serde_json::json!("skill {{ vars.skill }}"), &cx)
                .unwrap(),
            serde_json::json!("skill 4000123")
        );
        assert_eq!(
            r.render_json(&serde_json::json!({ "a": ["{{ steps.dial.id }}"] }), &cx)
                .unwrap(),
            serde_json::json!({ "a": ["c-1"] })
        );
        assert!(
            r.eval("steps.dial.outcome == 'passed'", &cx)
                .unwrap()
                .is_true()
        );
    }

    #[test]
    fn the_step_values_a_template_reads() {
        let r = Renderer::new();
        assert_eq!(
            r.step_reads("{{ steps.dial.conversation_id }}/{{ vars.x }}", false),
            vec![("dial".to_owned(), "conversation_id".to_owned())]
        );
        assert_eq!(
            r.step_reads("steps.dial.outcome == 'passed' and steps.a.b.c", true),
            vec![
                ("a".to_owned(), "b".to_owned()),
                ("dial".to_owned(), "outcome".to_owned())
            ]
        );
        assert!(r.step_reads("plain text", false).is_empty());
    }

    #[test]
    fn undefined_names_are_errors() {
        let r = Renderer::new();
        let err = r.render_str("{{ steps.nope.id }}", &context()).unwrap_err();
        assert!(err.0.contains("steps.nope.id"), "{err}");
        assert!(r.render_str("{{ vars.n | e164 }}", &context()).is_ok());
        // A value the step did not save is as undefined alone as inside a longer template.
        let alone = r
            .render_str("{{ steps.dial.nope }}", &context())
            .unwrap_err();
        assert_eq!(alone.0, "`{{ steps.dial.nope }}`: undefined value");
        assert!(r.render_str("x {{ steps.dial.nope }}", &context()).is_err());
    }
}
