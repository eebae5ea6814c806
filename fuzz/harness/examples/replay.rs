//! Runs inputs through a target on the stable toolchain: `cargo run --example replay TARGET FILE...`.
fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("a target: decode, step or step_message");
    let run = match target.as_str() {
        "decode" => zaxos_fuzz_harness::decode,
        "step" => zaxos_fuzz_harness::step,
        "step_message" => zaxos_fuzz_harness::step_message,
        _ => panic!("unknown target {target}"),
    };
    for path in args {
        let data = std::fs::read(&path).expect("an input file");
        run(&data);
        println!("{path}: passes");
    }
}
