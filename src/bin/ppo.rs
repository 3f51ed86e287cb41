//! The `ppo` command-line tool (to be written).
fn main() {}
