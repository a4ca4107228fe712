//! Tests of the lexer and parser: AST dumps, span invariants and rendered errors.

mod errors;
mod parse;
mod render;
mod spans;

/// The three examples of LANGUAGE.md §1, which every stage is tested on.
pub(crate) const LOGISTIC: &str = r#"# Logistic regression: the negative log-likelihood from the lecture notes.
data "cancer.csv"                      # default data; `--data` overrides
input x[4] = radius, texture, "smoothness mean", area
input y = malignant
param w[4] = 0
param b = 0
let z = dot(w, x) + b
let p = sigmoid(z)
minimize mean(-(y * log(p) + (1 - y) * log(1 - p))) + 0.001 * sum(w^2)
predict p
"#;

pub(crate) const ROSENBROCK: &str = r#"# Rosenbrock: no data at all.
param x = -1.2
param y = 1
minimize (1 - x)^2 + 100 * (y - x^2)^2
"#;

pub(crate) const NETWORK: &str = r#"# A 2-16-1 network, written with index notation (as on the slides: z_i = sum_j w_ij y_j).
input x[2] = x1, x2
input t = label
param W1[16][2] ~ normal(0, 0.5)
param b1[16] = 0
param W2[16] ~ normal(0, 0.5)
param b2 = 0
let h[i] = tanh(sum(j) W1[i][j] * x[j] + b1[i])
let out = sigmoid(sum(i) W2[i] * h[i] + b2)
minimize mean(-(t * log(out) + (1 - t) * log(1 - out)))
"#;
