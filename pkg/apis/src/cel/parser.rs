//! CEL source → AST: a hand-written lexer and recursive-descent parser for the CEL grammar
//! (cel-spec `CEL.g4`), with the standard macros (`has`, `all`, `exists`, `exists_one`, `map`,
//! `filter`, `cel.bind`, two-variable `all`/`exists`/`existsOne`) expanded into comprehensions
//! at parse time, as cel-go does. Errors carry the character offset of the offending token.

use std::fmt;

/// A node of the parsed expression. `id` is unique within one expression; `pos` is the offset
/// (in characters) where the node starts in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub id: u32,
    pub pos: u32,
    pub kind: ExprKind,
}

impl Expr {
    /// `a.b.c` → `Some("a.b.c")` for chains of plain identifiers (qualified names of
    /// functions, variables and types).
    pub fn qualified_name(&self) -> Option<String> {
        match &self.kind {
            ExprKind::Ident(n) => Some(n.clone()),
            ExprKind::Select {
                operand,
                field,
                test_only: false,
                optional: false,
            } => operand.qualified_name().map(|q| format!("{q}.{field}")),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(String),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Lit(Lit),
    Ident(String),
    /// `operand.field`; `test_only` for `has(operand.field)`; `optional` for `operand.?field`.
    Select {
        operand: Box<Expr>,
        field: String,
        test_only: bool,
        optional: bool,
    },
    /// A function call; operators are calls too (`_+_`, `_[_]`, `!_`, `_?_:_`, ...).
    Call {
        target: Option<Box<Expr>>,
        func: String,
        args: Vec<Expr>,
    },
    List {
        elems: Vec<Expr>,
        /// Indices of `?elem` entries.
        optional: Vec<usize>,
    },
    /// Map literal entries: key, value, optional (`?key: value`).
    Map(Vec<(Expr, Expr, bool)>),
    /// `Type{field: value}` (message construction; parsed, but no message types are declared).
    Struct {
        name: String,
        fields: Vec<(String, Expr, bool)>,
    },
    Comprehension(Box<Comprehension>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comprehension {
    pub iter_var: String,
    /// The second variable of two-variable comprehensions (`all(k, v, ...)`): the iteration
    /// variable is then the index/key and this one the value.
    pub iter_var2: Option<String>,
    pub iter_range: Expr,
    pub accu_var: String,
    pub accu_init: Expr,
    pub loop_cond: Expr,
    pub loop_step: Expr,
    pub result: Expr,
}

/// The accumulator variable of macro comprehensions.
pub const ACCU: &str = "__result__";

/// A parse error with the character offset it refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub pos: u32,
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Uint(u64),
    Double(f64),
    Str(String),
    Bytes(Vec<u8>),
    Ident(String),
    /// Punctuation and operators.
    P(&'static str),
    Eof,
}

impl Tok {
    fn text(&self, src: &[char], start: usize, end: usize) -> String {
        match self {
            Tok::Eof => "<EOF>".to_string(),
            _ => src[start..end].iter().collect(),
        }
    }
}

const RESERVED: &[&str] = &[
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// Maximum nesting of the parser's recursion (cel-go's default is 250 for the max recursion
/// depth): deeper expressions are refused instead of overflowing the stack.
const MAX_DEPTH: u32 = 200;

struct Lexer<'a> {
    s: &'a [char],
    i: usize,
}

impl<'a> Lexer<'a> {
    fn err(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            pos: pos as u32,
            msg: msg.into(),
        }
    }

    fn peek(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }

    fn skip_ws(&mut self) {
        loop {
            match self.peek(0) {
                Some(c) if c.is_whitespace() => self.i += 1,
                Some('/') if self.peek(1) == Some('/') => {
                    while let Some(c) = self.peek(0) {
                        if c == '\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// The next token with its start and end offsets.
    fn next(&mut self) -> Result<(Tok, usize, usize), ParseError> {
        self.skip_ws();
        let start = self.i;
        let Some(c) = self.peek(0) else {
            return Ok((Tok::Eof, start, start));
        };
        // String and bytes literals with prefixes.
        let mut j = 0;
        let (mut raw, mut bytes) = (false, false);
        while j < 2 {
            match self.peek(j) {
                Some('r' | 'R') if !raw => raw = true,
                Some('b' | 'B') if !bytes => bytes = true,
                _ => break,
            }
            j += 1;
        }
        if matches!(self.peek(j), Some('"' | '\'')) && (j == 0 || raw || bytes) {
            self.i += j;
            let tok = self.string(raw, bytes, start)?;
            return Ok((tok, start, self.i));
        }
        if c.is_ascii_alphabetic() || c == '_' {
            while self
                .peek(0)
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                self.i += 1;
            }
            let id: String = self.s[start..self.i].iter().collect();
            return Ok((Tok::Ident(id), start, self.i));
        }
        if c.is_ascii_digit() || (c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit())) {
            let tok = self.number(start)?;
            return Ok((tok, start, self.i));
        }
        const PUNCT: &[&str] = &[
            "==", "!=", "<=", ">=", "&&", "||", ".?", "[?", "(", ")", "[", "]", "{", "}", ".", ",",
            ":", "?", "+", "-", "*", "/", "%", "!", "<", ">",
        ];
        for p in PUNCT {
            let pc: Vec<char> = p.chars().collect();
            if self.s[self.i..].starts_with(&pc) {
                self.i += pc.len();
                return Ok((Tok::P(p), start, self.i));
            }
        }
        Err(self.err(
            start,
            format!("Syntax error: token recognition error at: '{c}'"),
        ))
    }

    fn number(&mut self, start: usize) -> Result<Tok, ParseError> {
        let s = self.s;
        if s[self.i] == '0' && matches!(self.peek(1), Some('x' | 'X')) {
            self.i += 2;
            let ds = self.i;
            while self.peek(0).is_some_and(|c| c.is_ascii_hexdigit()) {
                self.i += 1;
            }
            let digits: String = s[ds..self.i].iter().collect();
            if matches!(self.peek(0), Some('u' | 'U')) {
                self.i += 1;
                return u64::from_str_radix(&digits, 16)
                    .map(Tok::Uint)
                    .map_err(|_| self.err(start, "invalid uint literal"));
            }
            return i64::from_str_radix(&digits, 16)
                .map(Tok::Int)
                .map_err(|_| self.err(start, "invalid int literal"));
        }
        let mut is_double = false;
        while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            is_double = true;
            self.i += 1;
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            let save = self.i;
            self.i += 1;
            if matches!(self.peek(0), Some('+' | '-')) {
                self.i += 1;
            }
            if self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                is_double = true;
                while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
            } else {
                self.i = save;
            }
        }
        let text: String = s[start..self.i].iter().collect();
        if is_double {
            return text
                .parse::<f64>()
                .map(Tok::Double)
                .map_err(|_| self.err(start, "invalid double literal"));
        }
        if matches!(self.peek(0), Some('u' | 'U')) {
            self.i += 1;
            return text
                .parse::<u64>()
                .map(Tok::Uint)
                .map_err(|_| self.err(start, "invalid uint literal"));
        }
        // `-9223372036854775808` is handled by the unary minus folding in the parser.
        match text.parse::<i64>() {
            Ok(n) => Ok(Tok::Int(n)),
            Err(_) if text == "9223372036854775808" => Ok(Tok::Uint(1 << 63)),
            Err(_) => Err(self.err(start, "invalid int literal")),
        }
    }

    fn string(&mut self, raw: bool, bytes: bool, start: usize) -> Result<Tok, ParseError> {
        let q = self.s[self.i];
        let triple = self.peek(1) == Some(q) && self.peek(2) == Some(q);
        self.i += if triple { 3 } else { 1 };
        let mut out: Vec<u8> = Vec::new();
        let push_char = |out: &mut Vec<u8>, c: char| {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        };
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.err(
                    start,
                    "Syntax error: token recognition error at: unterminated string",
                ));
            };
            if triple {
                if c == q && self.peek(1) == Some(q) && self.peek(2) == Some(q) {
                    self.i += 3;
                    break;
                }
            } else if c == q {
                self.i += 1;
                break;
            } else if c == '\n' || c == '\r' {
                return Err(self.err(
                    start,
                    "Syntax error: token recognition error at: newline in string",
                ));
            }
            if c == '\\' && !raw {
                let esc_pos = self.i;
                self.i += 1;
                let Some(e) = self.peek(0) else { continue };
                self.i += 1;
                match e {
                    'a' => out.push(7),
                    'b' => out.push(8),
                    'f' => out.push(12),
                    'n' => out.push(b'\n'),
                    'r' => out.push(b'\r'),
                    't' => out.push(b'\t'),
                    'v' => out.push(11),
                    '\\' | '\'' | '"' | '`' | '?' => out.push(e as u8),
                    'x' | 'X' | 'u' | 'U' => {
                        let n = match e {
                            'x' | 'X' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = self.s[self.i..(self.i + n).min(self.s.len())]
                            .iter()
                            .collect();
                        let v = u32::from_str_radix(&hex, 16)
                            .ok()
                            .filter(|_| hex.len() == n)
                            .ok_or_else(|| self.err(esc_pos, "Syntax error: invalid escape"))?;
                        self.i += n;
                        if bytes && n == 2 {
                            out.push(v as u8);
                        } else if bytes && n > 2 {
                            return Err(self
                                .err(esc_pos, "Syntax error: unicode escape in a bytes literal"));
                        } else {
                            let ch = char::from_u32(v).ok_or_else(|| {
                                self.err(esc_pos, "Syntax error: invalid unicode code point")
                            })?;
                            push_char(&mut out, ch);
                        }
                    }
                    '0'..='3' => {
                        let oct: String = self.s[self.i - 1..(self.i + 2).min(self.s.len())]
                            .iter()
                            .collect();
                        let v = u32::from_str_radix(&oct, 8)
                            .ok()
                            .filter(|_| oct.len() == 3)
                            .ok_or_else(|| self.err(esc_pos, "Syntax error: invalid escape"))?;
                        self.i += 2;
                        if bytes {
                            out.push(v as u8);
                        } else if let Some(ch) = char::from_u32(v) {
                            push_char(&mut out, ch);
                        }
                    }
                    _ => {
                        return Err(self.err(
                            esc_pos,
                            format!("Syntax error: token recognition error at: '\\{e}'"),
                        ))
                    }
                }
                continue;
            }
            push_char(&mut out, c);
            self.i += 1;
        }
        if bytes {
            Ok(Tok::Bytes(out))
        } else {
            String::from_utf8(out)
                .map(Tok::Str)
                .map_err(|_| self.err(start, "Syntax error: invalid UTF-8 in string literal"))
        }
    }
}

struct Parser<'a> {
    src: &'a [char],
    toks: Vec<(Tok, usize, usize)>,
    k: usize,
    next_id: u32,
    depth: u32,
}

/// Parses `src` into an expression with macros expanded.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut lx = Lexer { s: &chars, i: 0 };
    let mut toks = Vec::new();
    loop {
        let t = lx.next()?;
        let eof = t.0 == Tok::Eof;
        toks.push(t);
        if eof {
            break;
        }
    }
    let mut p = Parser {
        src: &chars,
        toks,
        k: 0,
        next_id: 1,
        depth: 0,
    };
    let e = p.expr()?;
    if p.tok() != &Tok::Eof {
        return Err(p.unexpected("<EOF>"));
    }
    Ok(e)
}

impl Parser<'_> {
    fn tok(&self) -> &Tok {
        &self.toks[self.k.min(self.toks.len() - 1)].0
    }

    fn pos(&self) -> u32 {
        self.toks[self.k.min(self.toks.len() - 1)].1 as u32
    }

    fn is(&self, p: &str) -> bool {
        matches!(self.tok(), Tok::P(x) if *x == p)
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.is(p) {
            self.k += 1;
            true
        } else {
            false
        }
    }

    fn unexpected(&self, expecting: &str) -> ParseError {
        let (t, s, e) = &self.toks[self.k.min(self.toks.len() - 1)];
        let text = t.text(self.src, *s, *e);
        let msg = if *t == Tok::Eof {
            format!("Syntax error: mismatched input '<EOF>' expecting {expecting}")
        } else if expecting == "<EOF>" {
            format!("Syntax error: extraneous input '{text}' expecting <EOF>")
        } else {
            format!("Syntax error: mismatched input '{text}' expecting {expecting}")
        };
        ParseError {
            pos: *s as u32,
            msg,
        }
    }

    fn expect(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{p}'")))
        }
    }

    fn node(&mut self, pos: u32, kind: ExprKind) -> Expr {
        let id = self.next_id;
        self.next_id += 1;
        Expr { id, pos, kind }
    }

    fn call(&mut self, pos: u32, func: &str, args: Vec<Expr>) -> Expr {
        self.node(
            pos,
            ExprKind::Call {
                target: None,
                func: func.to_string(),
                args,
            },
        )
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError {
                pos: self.pos(),
                msg: format!("expression recursion limit exceeded: {MAX_DEPTH}"),
            });
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let pos = self.pos();
        let cond = self.or()?;
        let out = if self.is("?") {
            let qpos = self.pos();
            self.k += 1;
            let a = self.or()?;
            self.expect(":")?;
            let b = self.expr()?;
            let _ = pos;
            self.call(qpos, "_?_:_", vec![cond, a, b])
        } else {
            cond
        };
        self.depth -= 1;
        Ok(out)
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.and()?;
        while self.is("||") {
            let pos = self.pos();
            self.k += 1;
            let r = self.and()?;
            l = self.call(pos, "_||_", vec![l, r]);
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.relation()?;
        while self.is("&&") {
            let pos = self.pos();
            self.k += 1;
            let r = self.relation()?;
            l = self.call(pos, "_&&_", vec![l, r]);
        }
        Ok(l)
    }

    fn relation(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.addition()?;
        loop {
            let op = match self.tok() {
                Tok::P("<") => "_<_",
                Tok::P("<=") => "_<=_",
                Tok::P(">") => "_>_",
                Tok::P(">=") => "_>=_",
                Tok::P("==") => "_==_",
                Tok::P("!=") => "_!=_",
                Tok::Ident(s) if s == "in" => "@in",
                _ => return Ok(l),
            };
            let pos = self.pos();
            self.k += 1;
            let r = self.addition()?;
            l = self.call(pos, op, vec![l, r]);
        }
    }

    fn addition(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.multiplication()?;
        loop {
            let op = match self.tok() {
                Tok::P("+") => "_+_",
                Tok::P("-") => "_-_",
                _ => return Ok(l),
            };
            let pos = self.pos();
            self.k += 1;
            let r = self.multiplication()?;
            l = self.call(pos, op, vec![l, r]);
        }
    }

    fn multiplication(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.unary()?;
        loop {
            let op = match self.tok() {
                Tok::P("*") => "_*_",
                Tok::P("/") => "_/_",
                Tok::P("%") => "_%_",
                _ => return Ok(l),
            };
            let pos = self.pos();
            self.k += 1;
            let r = self.unary()?;
            l = self.call(pos, op, vec![l, r]);
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let pos = self.pos();
        let out = if self.eat("!") {
            let e = self.unary()?;
            self.call(pos, "!_", vec![e])
        } else if self.is("-") {
            self.k += 1;
            // Negative literals are folded, so that the minimum int parses.
            match self.tok().clone() {
                Tok::Int(n) if !self.next_is_member() => {
                    self.k += 1;
                    let e = self.node(pos, ExprKind::Lit(Lit::Int(-n)));
                    self.member_tail(e)?
                }
                Tok::Uint(n) if n == 1 << 63 && !self.next_is_member() => {
                    self.k += 1;
                    let e = self.node(pos, ExprKind::Lit(Lit::Int(i64::MIN)));
                    self.member_tail(e)?
                }
                Tok::Double(d) if !self.next_is_member() => {
                    self.k += 1;
                    let e = self.node(pos, ExprKind::Lit(Lit::Double(-d)));
                    self.member_tail(e)?
                }
                _ => {
                    let e = self.unary()?;
                    self.call(pos, "-_", vec![e])
                }
            }
        } else {
            self.member()?
        };
        self.depth -= 1;
        Ok(out)
    }

    /// Whether the token after the current one starts a member access (so a literal is not
    /// folded with a leading minus: `-1.foo()` negates the call).
    fn next_is_member(&self) -> bool {
        matches!(
            self.toks.get(self.k + 1).map(|t| &t.0),
            Some(Tok::P("." | "[" | ".?" | "[?"))
        )
    }

    fn member(&mut self) -> Result<Expr, ParseError> {
        let e = self.primary()?;
        self.member_tail(e)
    }

    fn member_tail(&mut self, mut e: Expr) -> Result<Expr, ParseError> {
        loop {
            let pos = self.pos();
            if self.is(".") || self.is(".?") {
                let optional = self.is(".?");
                self.k += 1;
                let Tok::Ident(name) = self.tok().clone() else {
                    return Err(self.unexpected("IDENTIFIER"));
                };
                let npos = self.pos();
                self.k += 1;
                if !optional && self.is("(") {
                    self.k += 1;
                    let args = self.args(")")?;
                    e = self.member_call(npos, e, &name, args)?;
                } else if optional {
                    let f = self.node(npos, ExprKind::Lit(Lit::String(name)));
                    e = self.call(pos, "_?._", vec![e, f]);
                } else if self.is("{") {
                    // Message construction with a qualified type name: `a.b.Type{...}`.
                    let Some(prefix) = e.qualified_name() else {
                        return Err(self.unexpected("<EOF>"));
                    };
                    e = self.struct_lit(e.pos, format!("{prefix}.{name}"))?;
                } else {
                    e = self.node(
                        pos,
                        ExprKind::Select {
                            operand: Box::new(e),
                            field: name,
                            test_only: false,
                            optional: false,
                        },
                    );
                }
            } else if self.is("[") || self.is("[?") {
                let optional = self.is("[?");
                self.k += 1;
                let i = self.expr()?;
                self.expect("]")?;
                let f = if optional { "_[?_]" } else { "_[_]" };
                e = self.call(pos, f, vec![e, i]);
            } else {
                return Ok(e);
            }
        }
    }

    fn args(&mut self, close: &str) -> Result<Vec<Expr>, ParseError> {
        let mut out = Vec::new();
        if self.eat(close) {
            return Ok(out);
        }
        loop {
            out.push(self.expr()?);
            if self.eat(close) {
                return Ok(out);
            }
            self.expect(",")?;
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let pos = self.pos();
        let t = self.tok().clone();
        self.k += 1;
        Ok(match t {
            Tok::Int(n) => self.node(pos, ExprKind::Lit(Lit::Int(n))),
            Tok::Uint(n) => self.node(pos, ExprKind::Lit(Lit::Uint(n))),
            Tok::Double(d) => self.node(pos, ExprKind::Lit(Lit::Double(d))),
            Tok::Str(s) => self.node(pos, ExprKind::Lit(Lit::String(s))),
            Tok::Bytes(b) => self.node(pos, ExprKind::Lit(Lit::Bytes(b))),
            Tok::P("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                e
            }
            Tok::P(open @ ("[" | "[?")) => {
                let mut elems = Vec::new();
                let mut optional = Vec::new();
                if open == "[?" {
                    // `[?x, ...]`: the lexer joined the bracket and the first element's `?`.
                    self.k -= 1;
                    self.toks[self.k].0 = Tok::P("?");
                }
                if !self.eat("]") {
                    loop {
                        if self.is("]") {
                            // trailing comma
                            self.k += 1;
                            break;
                        }
                        if self.eat("?") {
                            optional.push(elems.len());
                        }
                        elems.push(self.expr()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                self.node(pos, ExprKind::List { elems, optional })
            }
            Tok::P("{") => {
                let mut entries = Vec::new();
                if !self.eat("}") {
                    loop {
                        if self.eat("}") {
                            break;
                        }
                        let opt = self.eat("?");
                        let k = self.expr()?;
                        self.expect(":")?;
                        let v = self.expr()?;
                        entries.push((k, v, opt));
                        if self.eat("}") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                self.node(pos, ExprKind::Map(entries))
            }
            Tok::P(".") => {
                let Tok::Ident(name) = self.tok().clone() else {
                    return Err(self.unexpected("IDENTIFIER"));
                };
                self.k += 1;
                self.ident_or_call(pos, format!(".{name}"))?
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => self.node(pos, ExprKind::Lit(Lit::Bool(true))),
                "false" => self.node(pos, ExprKind::Lit(Lit::Bool(false))),
                "null" => self.node(pos, ExprKind::Lit(Lit::Null)),
                "in" => {
                    self.k -= 1;
                    return Err(self.unexpected(EXPECT_PRIMARY));
                }
                n if RESERVED.contains(&n) => {
                    return Err(ParseError {
                        pos,
                        msg: format!("reserved identifier: {n}"),
                    })
                }
                _ => self.ident_or_call(pos, name)?,
            },
            _ => {
                self.k -= 1;
                return Err(self.unexpected(EXPECT_PRIMARY));
            }
        })
    }

    fn ident_or_call(&mut self, pos: u32, name: String) -> Result<Expr, ParseError> {
        if self.eat("(") {
            let args = self.args(")")?;
            return self.global_call(pos, name.trim_start_matches('.'), args);
        }
        if self.is("{") {
            // Message construction `a.b.Type{...}` only follows a (qualified) name; here the
            // qualified name is a single identifier.
            return self.struct_lit(pos, name);
        }
        Ok(self.node(pos, ExprKind::Ident(name)))
    }

    fn struct_lit(&mut self, pos: u32, name: String) -> Result<Expr, ParseError> {
        self.expect("{")?;
        let mut fields = Vec::new();
        if !self.eat("}") {
            loop {
                if self.eat("}") {
                    break;
                }
                let opt = self.eat("?");
                let Tok::Ident(f) = self.tok().clone() else {
                    return Err(self.unexpected("IDENTIFIER"));
                };
                self.k += 1;
                self.expect(":")?;
                let v = self.expr()?;
                fields.push((f, v, opt));
                if self.eat("}") {
                    break;
                }
                self.expect(",")?;
            }
        }
        Ok(self.node(pos, ExprKind::Struct { name, fields }))
    }

    fn global_call(
        &mut self,
        pos: u32,
        name: &str,
        mut args: Vec<Expr>,
    ) -> Result<Expr, ParseError> {
        if name == "has" {
            if args.len() != 1 {
                return Err(ParseError {
                    pos,
                    msg: "invalid argument to has() macro".into(),
                });
            }
            let a = args.remove(0);
            return match a.kind {
                ExprKind::Select {
                    operand,
                    field,
                    optional: false,
                    test_only: false,
                } => Ok(self.node(
                    pos,
                    ExprKind::Select {
                        operand,
                        field,
                        test_only: true,
                        optional: false,
                    },
                )),
                _ => Err(ParseError {
                    pos: a.pos,
                    msg: "invalid argument to has() macro".into(),
                }),
            };
        }
        Ok(self.call(pos, name, args))
    }

    /// `target.name(args)`: macros, namespaced functions (`optional.of`, `sets.contains`, ...)
    /// or member calls.
    fn member_call(
        &mut self,
        pos: u32,
        target: Expr,
        name: &str,
        mut args: Vec<Expr>,
    ) -> Result<Expr, ParseError> {
        if let Some(ns) = target.qualified_name() {
            let full = format!("{ns}.{name}");
            if full == "cel.bind" && args.len() == 3 {
                let var = self.simple_name(&args[0])?;
                let mut it = args.into_iter().skip(1);
                let (init, body) = match (it.next(), it.next()) {
                    (Some(a), Some(b)) => (a, b),
                    _ => unreachable_args(pos)?,
                };
                let range = self.node(
                    pos,
                    ExprKind::List {
                        elems: vec![],
                        optional: vec![],
                    },
                );
                let cond = self.node(pos, ExprKind::Lit(Lit::Bool(false)));
                let step = self.node(pos, ExprKind::Ident(var.clone()));
                return Ok(self.node(
                    pos,
                    ExprKind::Comprehension(Box::new(Comprehension {
                        iter_var: "#unused".into(),
                        iter_var2: None,
                        iter_range: range,
                        accu_var: var,
                        accu_init: init,
                        loop_cond: cond,
                        loop_step: step,
                        result: body,
                    })),
                ));
            }
            if NAMESPACED.contains(&full.as_str()) {
                return Ok(self.call(pos, &full, args));
            }
        }
        let macro_ = match (name, args.len()) {
            ("all" | "exists" | "exists_one" | "existsOne" | "filter", 2)
            | ("map", 2 | 3)
            | ("all" | "exists" | "existsOne" | "exists_one", 3)
                if matches!(args[0].kind, ExprKind::Ident(_)) =>
            {
                true
            }
            ("all" | "exists" | "exists_one" | "existsOne" | "filter" | "map", 2 | 3) => {
                return Err(ParseError {
                    pos: args[0].pos,
                    msg: "argument must be a simple name".into(),
                })
            }
            _ => false,
        };
        if !macro_ {
            return Ok(self.node(
                pos,
                ExprKind::Call {
                    target: Some(Box::new(target)),
                    func: name.to_string(),
                    args,
                },
            ));
        }
        let two_var = args.len() == 3 && name != "map";
        let var = self.simple_name(&args[0])?;
        let var2 = if two_var {
            Some(self.simple_name(&args[1])?)
        } else {
            None
        };
        if var == ACCU || var2.as_deref() == Some(ACCU) {
            return Err(ParseError {
                pos: args[0].pos,
                msg: format!("iteration variable overwrites accumulator variable: {ACCU}"),
            });
        }
        let body = args.pop().unwrap_or_else(|| target.clone());
        let filter = if name == "map" && args.len() == 2 {
            args.pop()
        } else {
            None
        };
        let accu = |p: &mut Self| p.node(pos, ExprKind::Ident(ACCU.into()));
        let (init, cond, step, result) = match name {
            "all" => {
                let init = self.node(pos, ExprKind::Lit(Lit::Bool(true)));
                let a = accu(self);
                let cond = self.call(pos, "@not_strictly_false", vec![a]);
                let a = accu(self);
                let step = self.call(pos, "_&&_", vec![a, body]);
                (init, cond, step, accu(self))
            }
            "exists" => {
                let init = self.node(pos, ExprKind::Lit(Lit::Bool(false)));
                let a = accu(self);
                let na = self.call(pos, "!_", vec![a]);
                let cond = self.call(pos, "@not_strictly_false", vec![na]);
                let a = accu(self);
                let step = self.call(pos, "_||_", vec![a, body]);
                (init, cond, step, accu(self))
            }
            "exists_one" | "existsOne" => {
                let init = self.node(pos, ExprKind::Lit(Lit::Int(0)));
                let cond = self.node(pos, ExprKind::Lit(Lit::Bool(true)));
                let a = accu(self);
                let one = self.node(pos, ExprKind::Lit(Lit::Int(1)));
                let inc = self.call(pos, "_+_", vec![a, one]);
                let a = accu(self);
                let step = self.call(pos, "_?_:_", vec![body, inc, a]);
                let a = accu(self);
                let one = self.node(pos, ExprKind::Lit(Lit::Int(1)));
                let result = self.call(pos, "_==_", vec![a, one]);
                (init, cond, step, result)
            }
            "map" => {
                let init = self.node(
                    pos,
                    ExprKind::List {
                        elems: vec![],
                        optional: vec![],
                    },
                );
                let cond = self.node(pos, ExprKind::Lit(Lit::Bool(true)));
                let a = accu(self);
                let one = self.node(
                    pos,
                    ExprKind::List {
                        elems: vec![body],
                        optional: vec![],
                    },
                );
                let add = self.call(pos, "_+_", vec![a, one]);
                let step = match filter {
                    Some(f) => {
                        let a = accu(self);
                        self.call(pos, "_?_:_", vec![f, add, a])
                    }
                    None => add,
                };
                (init, cond, step, accu(self))
            }
            _ => {
                // filter
                let init = self.node(
                    pos,
                    ExprKind::List {
                        elems: vec![],
                        optional: vec![],
                    },
                );
                let cond = self.node(pos, ExprKind::Lit(Lit::Bool(true)));
                let a = accu(self);
                let v = self.node(pos, ExprKind::Ident(var.clone()));
                let one = self.node(
                    pos,
                    ExprKind::List {
                        elems: vec![v],
                        optional: vec![],
                    },
                );
                let add = self.call(pos, "_+_", vec![a, one]);
                let a = accu(self);
                let step = self.call(pos, "_?_:_", vec![body, add, a]);
                (init, cond, step, accu(self))
            }
        };
        Ok(self.node(
            pos,
            ExprKind::Comprehension(Box::new(Comprehension {
                iter_var: var,
                iter_var2: var2,
                iter_range: target,
                accu_var: ACCU.into(),
                accu_init: init,
                loop_cond: cond,
                loop_step: step,
                result,
            })),
        ))
    }

    fn simple_name(&self, e: &Expr) -> Result<String, ParseError> {
        match &e.kind {
            ExprKind::Ident(n) if !n.starts_with('.') => Ok(n.clone()),
            _ => Err(ParseError {
                pos: e.pos,
                msg: "argument must be a simple name".into(),
            }),
        }
    }
}

fn unreachable_args<T>(pos: u32) -> Result<T, ParseError> {
    Err(ParseError {
        pos,
        msg: "wrong number of arguments".into(),
    })
}

const EXPECT_PRIMARY: &str = "{'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}";

/// Functions whose names are qualified (`optional.of(x)` parses as a member call on `optional`).
const NAMESPACED: &[&str] = &[
    "optional.of",
    "optional.ofNonZeroValue",
    "optional.none",
    "sets.contains",
    "sets.equivalent",
    "sets.intersects",
    "lists.range",
    "ip.isCanonical",
    "strings.quote",
    "math.greatest",
    "math.least",
    "math.abs",
    "math.ceil",
    "math.floor",
    "math.round",
    "math.sign",
    "math.isNaN",
    "math.isInf",
    "math.isFinite",
    "base64.encode",
    "base64.decode",
    "jsonpatch.escapeKey",
    "format.named",
    "format.dns1123Label",
    "format.dns1123Subdomain",
    "format.dns1035Label",
    "format.qualifiedName",
    "format.dns1123LabelPrefix",
    "format.dns1123SubdomainPrefix",
    "format.dns1035LabelPrefix",
    "format.labelValue",
    "format.uri",
    "format.uuid",
    "format.byte",
    "format.date",
    "format.datetime",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operators_with_precedence() {
        let e = parse("a + b * c == d && !e || f ? g : h").expect("parse");
        let ExprKind::Call { func, args, .. } = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(func, "_?_:_");
        let ExprKind::Call { func, .. } = &args[0].kind else {
            panic!()
        };
        assert_eq!(func, "_||_");
        assert!(parse("-9223372036854775808").is_ok());
        assert!(parse("self.all(x, x > 0) && has(self.a.b)").is_ok());
        assert!(parse("r'\\d+' + b'\\x00' + '''a\nb''' + \"\\u00e9\"").is_ok());
        assert!(parse("{'a': [1, 2u, 3.0e2, null]}[?'a'].orValue([])").is_ok());
        assert!(parse("optional.of(1).hasValue() && self.?a.b.hasValue()").is_ok());
        assert!(parse("cel.bind(x, 1, x + 1)").is_ok());
    }

    #[test]
    fn syntax_errors() {
        let e = parse("self = 42").unwrap_err();
        assert!(e.msg.starts_with("Syntax error"), "{e:?}");
        assert_eq!(e.pos, 5);
        assert!(parse("a +").unwrap_err().msg.contains("Syntax error"));
        assert!(parse("has(a)").unwrap_err().msg.contains("has()"));
        assert!(parse("a.all(1, true)")
            .unwrap_err()
            .msg
            .contains("simple name"));
        assert!(parse("if").is_err());
        assert!(parse(&"(".repeat(500)).is_err());
        assert!(parse("'abc").is_err());
    }
}
