//! Fuzz target: lexing, parsing and lowering never panic, whatever the input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gradc_lower::fuzz_compile(data);
});
