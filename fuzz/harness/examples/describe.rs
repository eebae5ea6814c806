//! Prints a `step` or `step_message` input as its target reads it (by the directory it is in):
//! `cargo run --example describe FILE`.
fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("an input file");
        let text = if path.contains("/step/") { zaxos_fuzz_harness::describe_step(&data) } else { zaxos_fuzz_harness::describe_step_message(&data) };
        println!("{path}:\n{text}");
    }
}
