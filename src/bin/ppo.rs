//! The `ppo` command-line tool. Everything lives in [`ppo::cli`]; run `ppo help`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(ppo::cli::main(&args));
}
