//! A small AQL (Allure Query Language) parser and evaluator for the fake's `__search`
//! endpoints. It covers what assistants write: comparisons, `~=` (contains), `in`,
//! `is null`, `and`/`or`/`not`, parentheses, `cf["Name"]`, and the date functions.

use std::fmt;

use serde_json::Value;

/// A parse error, answered by the fake with 400 like the real AQL endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct AqlError(pub String);

impl fmt::Display for AqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

fn lex(input: &str) -> Result<Vec<Tok>, AqlError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            '[' => {
                out.push(Tok::LBracket);
                i += 1
            }
            ']' => {
                out.push(Tok::RBracket);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(AqlError("unterminated string literal".into())),
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                s.push(*n);
                            }
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' => {
                out.push(Tok::Op("="));
                i += 1
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op("!="));
                i += 2
            }
            '~' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op("~="));
                i += 2
            }
            '<' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op("<="));
                i += 2
            }
            '>' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op(">="));
                i += 2
            }
            '<' => {
                out.push(Tok::Op("<"));
                i += 1
            }
            '>' => {
                out.push(Tok::Op(">"));
                i += 1
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = text
                    .parse::<f64>()
                    .map_err(|_| AqlError(format!("bad number {text}")))?;
                out.push(Tok::Num(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => {
                return Err(AqlError(format!(
                    "unexpected character '{other}' at position {i}"
                )));
            }
        }
    }
    Ok(out)
}

/// A literal on the right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
}

/// A parsed AQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        attr: String,
        op: &'static str,
        value: Lit,
    },
    In {
        attr: String,
        values: Vec<Lit>,
    },
    IsNull {
        attr: String,
        negated: bool,
    },
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    now_ms: i64,
}

/// Parses `input`; `now_ms` fixes what `now()` and friends mean.
pub fn parse(input: &str, now_ms: i64) -> Result<Expr, AqlError> {
    let toks = lex(input)?;
    if toks.is_empty() {
        return Err(AqlError("empty query".into()));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        now_ms,
    };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(AqlError(format!(
            "unexpected {:?} after a complete expression",
            p.toks[p.pos]
        )));
    }
    Ok(e)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }
    fn or(&mut self) -> Result<Expr, AqlError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, AqlError> {
        let mut left = self.not()?;
        while self.keyword("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }
    fn not(&mut self) -> Result<Expr, AqlError> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Expr, AqlError> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            if self.next() != Some(Tok::RParen) {
                return Err(AqlError("missing closing parenthesis".into()));
            }
            return Ok(e);
        }
        let attr = match self.next() {
            Some(Tok::Ident(name)) => {
                if self.peek() == Some(&Tok::LBracket) {
                    self.pos += 1;
                    let key = match self.next() {
                        Some(Tok::Str(k)) => k,
                        _ => return Err(AqlError(format!("{name}[...] needs a quoted name"))),
                    };
                    if self.next() != Some(Tok::RBracket) {
                        return Err(AqlError("missing ]".into()));
                    }
                    format!("{name}[{key}]")
                } else {
                    name
                }
            }
            other => {
                return Err(AqlError(format!(
                    "expected an attribute name, found {other:?}"
                )));
            }
        };
        if self.keyword("in") {
            self.pos += 1;
            if self.next() != Some(Tok::LBracket) {
                return Err(AqlError("'in' needs a list: in [\"a\", \"b\"]".into()));
            }
            let mut values = Vec::new();
            loop {
                if self.peek() == Some(&Tok::RBracket) {
                    self.pos += 1;
                    break;
                }
                values.push(self.literal()?);
                match self.next() {
                    Some(Tok::Comma) => continue,
                    Some(Tok::RBracket) => break,
                    _ => return Err(AqlError("expected , or ] in a list".into())),
                }
            }
            return Ok(Expr::In { attr, values });
        }
        if self.keyword("is") {
            self.pos += 1;
            let negated = if self.keyword("not") {
                self.pos += 1;
                true
            } else {
                false
            };
            if !self.keyword("null") {
                return Err(AqlError("expected 'null' after 'is'".into()));
            }
            self.pos += 1;
            return Ok(Expr::IsNull { attr, negated });
        }
        let op = match self.next() {
            Some(Tok::Op(op)) => op,
            other => {
                return Err(AqlError(format!(
                    "expected an operator after {attr}, found {other:?}"
                )));
            }
        };
        let value = self.literal()?;
        Ok(Expr::Cmp { attr, op, value })
    }
    fn literal(&mut self) -> Result<Lit, AqlError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Num(n)) => Ok(Lit::Num(n)),
            Some(Tok::Ident(id)) if id.eq_ignore_ascii_case("true") => Ok(Lit::Bool(true)),
            Some(Tok::Ident(id)) if id.eq_ignore_ascii_case("false") => Ok(Lit::Bool(false)),
            Some(Tok::Ident(f)) => {
                if self.next() != Some(Tok::LParen) || self.next() != Some(Tok::RParen) {
                    return Err(AqlError(format!(
                        "unknown value {f}: strings need double quotes"
                    )));
                }
                const DAY: i64 = 86_400_000;
                let ms = match f.as_str() {
                    "now" => self.now_ms,
                    "dayStartUtc" => self.now_ms - self.now_ms.rem_euclid(DAY),
                    "weekAgo" => self.now_ms - 7 * DAY,
                    "monthAgo" => self.now_ms - 30 * DAY,
                    "currentUser" => return Ok(Lit::Str("demo".into())),
                    _ => return Err(AqlError(format!("unknown function {f}()"))),
                };
                Ok(Lit::Num(ms as f64))
            }
            other => Err(AqlError(format!("expected a value, found {other:?}"))),
        }
    }
}

/// Values an attribute of an entity has (several for tags).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Result<Vec<Value>, AqlError>;

/// Every attribute an expression names, so the caller can reject unknown ones with 400.
pub fn attributes(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            attributes(a, out);
            attributes(b, out)
        }
        Expr::Not(a) => attributes(a, out),
        Expr::Cmp { attr, .. } | Expr::In { attr, .. } | Expr::IsNull { attr, .. } => {
            out.push(attr.clone())
        }
    }
}

/// Evaluates `e` for one entity.
pub fn eval(e: &Expr, lookup: Lookup<'_>) -> Result<bool, AqlError> {
    Ok(match e {
        Expr::And(a, b) => eval(a, lookup)? && eval(b, lookup)?,
        Expr::Or(a, b) => eval(a, lookup)? || eval(b, lookup)?,
        Expr::Not(a) => !eval(a, lookup)?,
        Expr::IsNull { attr, negated } => {
            let vals = lookup(attr)?;
            let null = vals.iter().all(Value::is_null);
            null != *negated
        }
        Expr::In { attr, values } => {
            let vals = lookup(attr)?;
            vals.iter()
                .any(|v| values.iter().any(|l| compare(v, "=", l)))
        }
        Expr::Cmp { attr, op, value } => {
            let vals = lookup(attr)?;
            if *op == "!=" {
                !vals.iter().any(|v| compare(v, "=", value))
            } else {
                vals.iter().any(|v| compare(v, op, value))
            }
        }
    })
}

fn compare(v: &Value, op: &str, lit: &Lit) -> bool {
    match (v, lit) {
        (Value::String(s), Lit::Str(l)) => match op {
            "=" => s.eq_ignore_ascii_case(l),
            "~=" => s.to_lowercase().contains(&l.to_lowercase()),
            "<" => s.as_str() < l.as_str(),
            "<=" => s.as_str() <= l.as_str(),
            ">" => s.as_str() > l.as_str(),
            ">=" => s.as_str() >= l.as_str(),
            _ => false,
        },
        (Value::Number(n), Lit::Num(l)) => {
            let n = n.as_f64().unwrap_or(f64::NAN);
            match op {
                "=" => n == *l,
                "<" => n < *l,
                "<=" => n <= *l,
                ">" => n > *l,
                ">=" => n >= *l,
                _ => false,
            }
        }
        // `id = "12"` and `launch = 12` both work on the real server.
        (Value::Number(n), Lit::Str(l)) => l.parse::<f64>().is_ok_and(|l| {
            compare(
                &Value::from(n.as_f64().unwrap_or(f64::NAN)),
                op,
                &Lit::Num(l),
            )
        }),
        (Value::String(s), Lit::Num(l)) => s
            .parse::<f64>()
            .is_ok_and(|s| compare(&Value::from(s), op, &Lit::Num(*l))),
        (Value::Bool(b), Lit::Bool(l)) => op == "=" && b == l,
        (Value::Bool(b), Lit::Str(l)) => op == "=" && l.eq_ignore_ascii_case(&b.to_string()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// The fake's AQL parser answers any input (a 400 for bad AQL), never panics.
        #[test]
        fn the_parser_never_panics(input in ".{0,200}") {
            let _ = parse(&input, 0);
        }
    }

    fn matches(q: &str, entity: Value) -> bool {
        let e = parse(q, 1_000_000_000_000).unwrap();
        let lookup = |attr: &str| -> Result<Vec<Value>, AqlError> {
            Ok(match entity.get(attr) {
                Some(Value::Array(a)) => a.clone(),
                Some(v) => vec![v.clone()],
                None => vec![Value::Null],
            })
        };
        eval(&e, &lookup).unwrap()
    }

    #[test]
    fn comparisons_and_logic() {
        let r = json!({"status": "failed", "name": "Login works", "id": 7, "tag": ["smoke", "ui"]});
        assert!(matches(r#"status = "failed""#, r.clone()));
        assert!(matches(r#"status in ["broken", "failed"]"#, r.clone()));
        assert!(!matches(r#"status != "failed""#, r.clone()));
        assert!(matches(
            r#"name ~= "login" and not status = "passed""#,
            r.clone()
        ));
        assert!(matches(r#"(id > 5 and id <= 7) or tag = "x""#, r.clone()));
        assert!(matches(r#"tag = "ui""#, r.clone()));
        assert!(matches(r#"assignee is null"#, r.clone()));
        assert!(!matches(r#"name is null"#, r.clone()));
        assert!(matches(r#"id = "7""#, r));
    }

    #[test]
    fn custom_fields_and_functions_parse() {
        assert!(parse(r#"cf["Epic"] = "Checkout" and createdDate > weekAgo()"#, 0).is_ok());
    }

    #[test]
    fn bad_queries_are_rejected() {
        for q in [
            "",
            "status =",
            "status = failed",
            "(status = \"a\"",
            "status == \"x\"",
            "\"x\" = status",
            "status in \"a\"",
            "status = \"a",
        ] {
            assert!(parse(q, 0).is_err(), "{q} should not parse");
        }
    }
}
