//! Prints a `step_message` input as the target reads it: `cargo run --example describe FILE`.
fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("an input file");
        println!("{path}:\n{}", zaxos_fuzz_harness::describe_step_message(&data));
    }
}
