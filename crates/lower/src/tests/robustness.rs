//! The front end never panics: on every prefix of valid files, and on odd bytes.

use super::{LOGISTIC, NETWORK, ROSENBROCK};
use crate::{compile, fuzz_compile};

const EXTRA: &str = "fn sq(t) = t * t\nconst k = 2 * pi\ninput v[3] = columns 0..3\nparam W[2][3] ~ uniform(-1, 1)\n\
    let M[i][j] = W[i][j] * v[j]\nlet s = softmax(W @ v)\nminimize mean(sum(i) sq(s[i]) + logsumexp(v)) + if k > 1 then norm(W[0]) else max(mean(v[0]), 1)\npredict out = s\n";

#[test]
fn every_prefix_compiles_without_panicking() {
    for source in [LOGISTIC, ROSENBROCK, NETWORK, EXTRA] {
        for end in (0..=source.len()).filter(|&e| source.is_char_boundary(e)) {
            let prefix = &source[..end];
            if let Err(errors) = compile(prefix) {
                // Rendering must cope with every span the stages produce.
                let rendered = gradc_syntax::render("prefix.loss", prefix, &errors, true);
                assert!(
                    end < source.len(),
                    "the whole file must compile:\n{rendered}"
                );
            }
        }
    }
}

#[test]
fn every_suffix_compiles_without_panicking() {
    for source in [LOGISTIC, NETWORK, EXTRA] {
        // Every byte offset, including ones inside a UTF-8 character (lossy decoding).
        for start in 0..=source.len() {
            fuzz_compile(&source.as_bytes()[start..]);
        }
    }
}

#[test]
fn odd_inputs_do_not_panic() {
    let inputs: [&[u8]; 12] = [
        b"",
        b"\xff\xfe\x00minimize",
        b"minimize ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1",
        b"minimize ----------------------------------------------------------------------------------------------------------------1",
        b"minimize 2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2^2",
        b"param w[1e300]\nminimize sum(w)",
        b"param w[4294967297]\nminimize sum(w)",
        b"input x = columns 0..99999999999\nminimize 1",
        b"param w[3]\nminimize w[99999999999999999999]",
        b"let v[i] = sum(i) v[i]\nminimize 1",
        b"fn f(a) = g(a)\nfn g(a) = f(a)\nminimize f(1)",
        b"\"\\",
    ];
    for input in inputs {
        fuzz_compile(input);
    }
}

#[test]
fn deep_but_accepted_expressions_do_not_overflow_the_stack() {
    // Just under the parser's nesting limit, in a test thread's small stack: every stage
    // recurses over the tree.
    let chain = format!("param w\nminimize {}w\n", "w + ".repeat(250));
    let parentheses = format!(
        "param w\nminimize {}w{}\n",
        "(w + ".repeat(120),
        ")".repeat(120)
    );
    let functions = format!(
        "param w\nfn f0(a) = a\n{}minimize f60(w)\n",
        (1..=60)
            .map(|k| format!(
                "fn f{k}(a) = f{}(a) + {}\n",
                k - 1,
                "a * ".repeat(100) + "a"
            ))
            .collect::<String>()
    );
    for source in [chain, parentheses, functions] {
        assert!(compile(&source).is_ok());
    }
    // A chain may be long (see below); nesting may not be deep.
    let too_deep = format!(
        "param w\nminimize {}w{}\n",
        "(".repeat(300),
        ")".repeat(300)
    );
    assert!(compile(&too_deep).is_err());
}

#[test]
fn a_long_flat_sum_is_not_nesting() {
    // 257 terms used to be "nested too deeply"; 100,000 operators is the length limit (50,000
    // terms of `k * w` are 99,998 operators).
    for terms in [257usize, 20_000, 50_000] {
        let mut source = String::from("param w = 1\nminimize w");
        for k in 1..terms {
            source.push_str(&format!(" + {k} * w"));
        }
        source.push('\n');
        let program = crate::compile(&source).unwrap_or_else(|e| panic!("{terms}: {e:?}"));
        assert!(program.graph.len() > terms, "{terms}");
    }
    let mut source = String::from("param w = 1\nminimize w");
    for _ in 0..100_001 {
        source.push_str(" + w");
    }
    let errors = crate::compile(&source).expect_err("too long");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("expression too long"),
        "{:?}",
        errors[0]
    );
}
