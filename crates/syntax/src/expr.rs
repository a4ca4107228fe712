//! Expression parsing by precedence climbing (LANGUAGE.md §4).
//!
//! Loosest first: `+ -`, `* / @`, unary `-`, `^` (right-associative, so `-x^2` is `-(x^2)` and
//! `2^-1` is `2^(-1)`), then postfix indexing. Comparisons are parsed only as the condition of
//! an `if`; anywhere else they are reported and replaced by an error node.

use crate::ast::{BinaryOp, CompareOp, Expr, ExprKind, Ident, Reduction};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::lexer::{Token, TokenKind};
use crate::parser::{MAX_CHAIN, MAX_NESTING, Parser};
use crate::span::Span;

impl Parser<'_> {
    /// A full expression, outside an `if` condition.
    pub(crate) fn expr(&mut self) -> Expr {
        let expr = self.additive();
        match compare_op(self.peek()) {
            Some(_) => {
                let operator = self.bump();
                let rhs = self.additive();
                let diagnostic = Diagnostic::error(
                    codes::COMPARISON_OUTSIDE_IF,
                    format!(
                        "comparison `{}` outside of an `if` condition",
                        self.text(operator)
                    ),
                    operator.span,
                )
                .with_label("comparisons have no numeric value")
                .with_hint("comparisons only appear in `if c then a else b`");
                self.report(diagnostic);
                Expr {
                    kind: ExprKind::Error,
                    span: expr.span.to(rhs.span),
                }
            }
            None => expr,
        }
    }

    /// `a < b`, the condition of an `if`, also in parentheses: `if (a < b) then`.
    fn condition(&mut self) -> Expr {
        if self.parenthesized_condition() {
            let open = self.bump();
            let mut inner = self.condition();
            let close = self.expect_closing(TokenKind::RParen, open);
            let end = close.map_or(inner.span, |t| t.span);
            inner.span = open.span.to(end);
            return inner;
        }
        let lhs = self.additive();
        let Some(op) = compare_op(self.peek()) else {
            if !lhs_is_error(&lhs) {
                let diagnostic = Diagnostic::error(
                    codes::CONDITION_NOT_COMPARISON,
                    "the condition of an `if` must be a comparison",
                    lhs.span,
                )
                .with_label("not a comparison")
                .with_hint(format!(
                    "compare explicitly, as in `if {} > 0 then ...`",
                    lhs.span.text(self.source)
                ));
                self.report(diagnostic);
            }
            return lhs;
        };
        let operator = self.bump();
        let rhs = self.additive();
        if compare_op(self.peek()).is_some() {
            let second = self.token();
            let diagnostic = Diagnostic::error(
                codes::CHAINED_COMPARISON,
                "comparisons cannot be chained",
                second.span,
            )
            .with_label("second comparison")
            .with_secondary(operator.span, "first comparison")
            .with_hint("nest `if`s to test two conditions");
            self.report(diagnostic);
        }
        Expr {
            span: lhs.span.to(rhs.span),
            kind: ExprKind::Compare {
                op,
                op_span: operator.span,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
        }
    }

    /// Whether the condition ahead is a comparison in parentheses followed by `then`: `(`, a
    /// comparison operator inside, the matching `)`, then `then`. (Parsing the inside as a
    /// condition reports a comparison that is nested deeper where it stands.)
    fn parenthesized_condition(&self) -> bool {
        if self.peek() != TokenKind::LParen {
            return false;
        }
        let mut depth = 0usize;
        let mut compares = false;
        for k in 0.. {
            match self.nth(k).kind {
                TokenKind::LParen | TokenKind::LBracket => depth += 1,
                TokenKind::RParen | TokenKind::RBracket => {
                    depth -= 1;
                    if depth == 0 {
                        // Closing parentheses of outer groups may follow: `((a < b)) then`.
                        let mut next = k + 1;
                        while self.nth(next).kind == TokenKind::RParen {
                            next += 1;
                        }
                        return compares && self.nth(next).kind == TokenKind::Then;
                    }
                }
                TokenKind::Newline | TokenKind::Semicolon | TokenKind::Eof => return false,
                kind if compare_op(kind).is_some() => compares = true,
                _ => {}
            }
        }
        false
    }

    fn additive(&mut self) -> Expr {
        let outer_depth = self.depth;
        let mut lhs = self.multiplicative();
        loop {
            let op = match self.peek() {
                TokenKind::Plus => BinaryOp::Add,
                TokenKind::Minus => BinaryOp::Sub,
                _ => break,
            };
            let operator = self.bump();
            if !self.count_operator(operator) {
                break;
            }
            let rhs = self.multiplicative();
            lhs = binary(op, operator, lhs, rhs);
        }
        self.depth = outer_depth;
        lhs
    }

    /// One multiplicative term; also the body of `sum(i) body`.
    fn multiplicative(&mut self) -> Expr {
        let outer_depth = self.depth;
        let mut lhs = self.unary();
        loop {
            let op = match self.peek() {
                TokenKind::Star => BinaryOp::Mul,
                TokenKind::Slash => BinaryOp::Div,
                TokenKind::At => BinaryOp::MatMul,
                _ => break,
            };
            let operator = self.bump();
            if !self.count_operator(operator) {
                break;
            }
            let rhs = self.unary();
            lhs = binary(op, operator, lhs, rhs);
        }
        self.depth = outer_depth;
        lhs
    }

    /// Counts a binary operator of a chain (`a + b + c …`, `a * b * c …`): a chain is a tree
    /// as deep as it is long, and lowering recurses over it, so a chain may have at most
    /// [`MAX_CHAIN`] operators. Reports and skips the rest of the statement past that.
    fn count_operator(&mut self, operator: crate::lexer::Token) -> bool {
        self.chain += 1;
        if self.chain <= MAX_CHAIN {
            return true;
        }
        self.report(
            Diagnostic::error(
                codes::NESTED_TOO_DEEPLY,
                "expression too long",
                operator.span,
            )
            .with_label(format!("more than {MAX_CHAIN} operators in one expression"))
            .with_hint("sum a vector with `sum(v)`, or split the expression with `let`"),
        );
        self.skip_statement();
        false
    }

    fn skip_statement(&mut self) {
        while !matches!(
            self.peek(),
            TokenKind::Newline | TokenKind::Semicolon | TokenKind::Eof
        ) {
            self.bump();
        }
    }

    fn unary(&mut self) -> Expr {
        // Every nested expression passes through here, so this bounds the recursion depth.
        if self.depth >= MAX_NESTING {
            self.report(
                Diagnostic::error(
                    codes::NESTED_TOO_DEEPLY,
                    "expression nested too deeply",
                    self.here(),
                )
                .with_label(format!(
                    "more than {MAX_NESTING} levels of parentheses, signs, powers and calls"
                ))
                .with_hint("split the expression with `let`"),
            );
            self.skip_statement();
            return Expr {
                kind: ExprKind::Error,
                span: self.placeholder(),
            };
        }
        self.depth += 1;
        let expr = self.unary_inner();
        self.depth -= 1;
        expr
    }

    fn unary_inner(&mut self) -> Expr {
        if let Some(minus) = self.eat(TokenKind::Minus) {
            let operand = self.unary();
            return Expr {
                span: minus.span.to(operand.span),
                kind: ExprKind::Neg(Box::new(operand)),
            };
        }
        self.power()
    }

    fn power(&mut self) -> Expr {
        let base = self.postfix();
        match self.eat(TokenKind::Caret) {
            // The exponent is parsed at the unary level, which recurses back here: that makes
            // `^` right-associative and lets the exponent carry its own sign.
            Some(operator) => {
                let exponent = self.unary();
                binary(BinaryOp::Pow, operator, base, exponent)
            }
            None => base,
        }
    }

    fn postfix(&mut self) -> Expr {
        let mut expr = self.primary();
        while let Some(open) = self.eat(TokenKind::LBracket) {
            let index = self.expr();
            let close = self.expect_closing(TokenKind::RBracket, open);
            let end = close.map_or(index.span, |token| token.span);
            expr = Expr {
                span: expr.span.to(end),
                kind: ExprKind::Index {
                    base: Box::new(expr),
                    index: Box::new(index),
                },
            };
            if close.is_none() {
                break;
            }
        }
        expr
    }

    fn primary(&mut self) -> Expr {
        let token = self.token();
        match token.kind {
            TokenKind::Number => {
                self.bump();
                self.number(token)
            }
            TokenKind::Ident => {
                let name = self.ident("a name");
                if let Some(open) = self.eat(TokenKind::LParen) {
                    self.call(name, open)
                } else {
                    Expr {
                        span: name.span,
                        kind: ExprKind::Name(name),
                    }
                }
            }
            TokenKind::Sum | TokenKind::Mean => self.sum_or_mean(token),
            TokenKind::LParen => {
                self.bump();
                let mut inner = self.expr();
                let close = self.expect_closing(TokenKind::RParen, token);
                // The parentheses belong to the expression, so carets cover them.
                let end = close.map_or(inner.span, |t| t.span);
                inner.span = token.span.to(end);
                inner
            }
            TokenKind::If => self.if_expression(token),
            _ => {
                let diagnostic = Diagnostic::error(
                    codes::EXPECTED_EXPRESSION,
                    format!("expected an expression, found {}", self.found()),
                    self.here(),
                )
                .with_label("expected an expression here");
                self.report(diagnostic);
                Expr {
                    kind: ExprKind::Error,
                    span: self.placeholder(),
                }
            }
        }
    }

    fn number(&mut self, token: Token) -> Expr {
        let text = self.text(token);
        let value = text.parse::<f64>().ok().filter(|v| v.is_finite());
        let kind = match value {
            Some(value) => ExprKind::Number(value),
            None => {
                let diagnostic = Diagnostic::error(
                    codes::NUMBER_OUT_OF_RANGE,
                    format!("number `{text}` is too large"),
                    token.span,
                )
                .with_label("does not fit a 64-bit float")
                .with_hint("the largest number is about 1.8e308");
                self.report(diagnostic);
                ExprKind::Error
            }
        };
        Expr {
            kind,
            span: token.span,
        }
    }

    fn call(&mut self, callee: Ident, open: Token) -> Expr {
        let args = self.call_arguments(open);
        Expr {
            span: callee
                .span
                .to(Span::new(self.previous_end(), self.previous_end())),
            kind: ExprKind::Call { callee, args },
        }
    }

    /// Comma-separated expressions after `(`, through the closing `)`.
    pub(crate) fn call_arguments(&mut self, open: Token) -> Vec<Expr> {
        let mut args = Vec::new();
        if self.eat(TokenKind::RParen).is_some() {
            return args;
        }
        loop {
            args.push(self.expr());
            if self.failed() || self.eat(TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect_closing(TokenKind::RParen, open);
        args
    }

    /// `sum(i) body` (an index sum) or `sum(v)` (a call): it is an index sum when `( name )` is
    /// followed by something that starts an operand. After a `-` it is an index sum only if
    /// the rest of the statement indexes with the name (`sum(i) -a[i] * b[i]`: a value is never
    /// an index), so `sum(v) - 1` stays a subtraction.
    fn sum_or_mean(&mut self, keyword: Token) -> Expr {
        let is_index_form = self.nth(1).kind == TokenKind::LParen
            && self.nth(2).kind == TokenKind::Ident
            && self.nth(3).kind == TokenKind::RParen
            && (starts_operand(self.nth(4).kind)
                || (self.nth(4).kind == TokenKind::Minus && self.indexes_later(self.nth(2), 5)));
        let reduction = if keyword.kind == TokenKind::Sum {
            Reduction::Sum
        } else {
            Reduction::Mean
        };
        self.bump();
        let callee = Ident {
            name: self.text(keyword).to_string(),
            span: keyword.span,
        };
        if is_index_form {
            self.bump();
            let index = self.ident("an index name");
            self.bump();
            let body = self.multiplicative();
            return Expr {
                span: keyword.span.to(body.span),
                kind: ExprKind::IndexReduce {
                    reduction,
                    index,
                    body: Box::new(body),
                },
            };
        }
        let hint = format!(
            "write `{0}(v)` for the {0} of a value or `{0}(i) body` for a {0} over an index",
            callee.name
        );
        match self.expect(TokenKind::LParen, Some(&hint)) {
            Some(open) => self.call(callee, open),
            None => Expr {
                kind: ExprKind::Error,
                span: keyword.span,
            },
        }
    }

    /// Whether `[name` occurs from the `from`-th token ahead to the end of the statement.
    fn indexes_later(&self, name: Token, from: usize) -> bool {
        let name = self.text(name);
        for k in from.. {
            match self.nth(k).kind {
                TokenKind::Newline | TokenKind::Semicolon | TokenKind::Eof => return false,
                TokenKind::LBracket
                    if self.nth(k + 1).kind == TokenKind::Ident
                        && self.text(self.nth(k + 1)) == name =>
                {
                    return true;
                }
                _ => {}
            }
        }
        false
    }

    fn if_expression(&mut self, keyword: Token) -> Expr {
        self.bump();
        let condition = self.condition();
        if !self.failed() && !self.at(TokenKind::Then) {
            self.report(
                Diagnostic::error(
                    codes::MISSING_THEN,
                    format!(
                        "expected `then` after the condition, found {}",
                        self.found()
                    ),
                    self.here(),
                )
                .with_label("expected `then` here")
                .with_secondary(keyword.span, "this `if`")
                .with_hint("write `if c then a else b`"),
            );
        }
        self.eat(TokenKind::Then);
        let then_branch = self.expr();
        if !self.failed() && !self.at(TokenKind::Else) {
            self.report(
                Diagnostic::error(
                    codes::MISSING_ELSE,
                    format!("expected `else`, found {}", self.found()),
                    self.here(),
                )
                .with_label("expected `else` here")
                .with_secondary(keyword.span, "this `if` has no `else`")
                .with_hint("every `if` needs both branches: `if c then a else b`"),
            );
        }
        self.eat(TokenKind::Else);
        // The else branch extends as far as possible, as in OCaml and Haskell.
        let else_branch = self.expr();
        Expr {
            span: keyword.span.to(else_branch.span),
            kind: ExprKind::If {
                condition: Box::new(condition),
                then_branch: Box::new(then_branch),
                else_branch: Box::new(else_branch),
            },
        }
    }
}

fn binary(op: BinaryOp, operator: Token, lhs: Expr, rhs: Expr) -> Expr {
    Expr {
        span: lhs.span.to(rhs.span),
        kind: ExprKind::Binary {
            op,
            op_span: operator.span,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
    }
}

fn compare_op(kind: TokenKind) -> Option<CompareOp> {
    Some(match kind {
        TokenKind::Lt => CompareOp::Lt,
        TokenKind::Le => CompareOp::Le,
        TokenKind::Gt => CompareOp::Gt,
        TokenKind::Ge => CompareOp::Ge,
        TokenKind::EqEq => CompareOp::Eq,
        TokenKind::Ne => CompareOp::Ne,
        _ => return None,
    })
}

fn starts_operand(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Number
            | TokenKind::Ident
            | TokenKind::LParen
            | TokenKind::Sum
            | TokenKind::Mean
            | TokenKind::If
    )
}

fn lhs_is_error(expr: &Expr) -> bool {
    matches!(expr.kind, ExprKind::Error)
}
