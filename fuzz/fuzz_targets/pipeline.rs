//! Fuzz target: a generated valid model with data goes through the whole pipeline — lowering,
//! differentiation, simplification, native code, evaluation — and every invariant holds
//! (`gradc::fuzzing::check` says which).
#![no_main]

libfuzzer_sys::fuzz_target!(|model: gradc::fuzzing::Model| {
    if let Err(failure) = gradc::fuzzing::check(&model) {
        panic!("{failure}\n{model:?}");
    }
});
