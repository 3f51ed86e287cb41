//! Learn PPO by writing it: eleven self-checking exercises, in the crate's reading order.
//!
//! Each file beside this one (`01_tanh_backward.rs` … `10_value_loss.rs`) holds one
//! function with a `todo!()` body and a doc comment with the task, the math and the
//! shapes. Write the body, then check it against the crate's own function (the
//! solution, named at the top of each file):
//!
//! ```text
//! cargo run --profile exercise --example exercises -- list          # the exercises and their files
//! cargo run --profile exercise --example exercises -- check tanh    # one exercise, with a hint on failure
//! cargo run --profile exercise --example exercises -- check all     # the progress table
//! cargo run --profile exercise --example exercises -- check learns  # CartPole to 475 with your loss
//! ```
//!
//! The last exercise has no file: it plugs your surrogate (09) and value loss (10) into
//! an update of its own (`ppo::exercises::update_with`, through `Trainer::iterate_with`)
//! and trains CartPole-v1 until the mean
//! return of the last 100 episodes reaches 475 (a few seconds in release mode). The
//! guided tour, `docs/guide.md`, walks through the same pieces in the same order.

#[path = "01_tanh_backward.rs"]
mod e01_tanh_backward;
#[path = "02_log_softmax_backward.rs"]
mod e02_log_softmax_backward;
#[path = "03_clip_grad_norm.rs"]
mod e03_clip_grad_norm;
#[path = "04_adam_step.rs"]
mod e04_adam_step;
#[path = "05_gaussian.rs"]
mod e05_gaussian;
#[path = "06_cartpole.rs"]
mod e06_cartpole;
#[path = "07_gae.rs"]
mod e07_gae;
#[path = "08_normalize_advantages.rs"]
mod e08_normalize_advantages;
#[path = "09_surrogate.rs"]
mod e09_surrogate;
#[path = "10_value_loss.rs"]
mod e10_value_loss;

use ppo::exercises::{check, progress_table, Exercise, Outcome, Solutions};
use std::process::ExitCode;

/// Your functions, one per exercise (`--reference` swaps in the crate's).
fn yours() -> Solutions {
    Solutions {
        tanh_backward: e01_tanh_backward::tanh_backward,
        log_softmax_backward: e02_log_softmax_backward::log_softmax_backward,
        clip_grad_norm: e03_clip_grad_norm::clip_grad_norm,
        adam_step: e04_adam_step::adam_step,
        gaussian_log_prob: e05_gaussian::gaussian_log_prob,
        gaussian_entropy: e05_gaussian::gaussian_entropy,
        cartpole_step: e06_cartpole::cartpole_step,
        gae: e07_gae::gae,
        normalize_advantages: e08_normalize_advantages::normalize_advantages,
        surrogate: e09_surrogate::clipped_surrogate,
        value_loss: e10_value_loss::value_loss,
    }
}

const USAGE: &str = "usage: exercises list | check NAME|all [--reference]\n\
                     names: tanh log_softmax clip_grad adam gaussian cartpole gae normalize surrogate value_loss learns";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reference = args.iter().any(|a| a == "--reference");
    let words: Vec<&str> = args.iter().map(String::as_str).filter(|a| *a != "--reference").collect();
    let solutions = if reference { Solutions::reference() } else { yours() };
    // A `todo!()` is the expected state of an exercise not yet done: report it in the
    // table rather than printing a panic message for each.
    std::panic::set_hook(Box::new(|_| {}));
    match words.as_slice() {
        ["list"] => {
            for (i, e) in Exercise::ALL.iter().enumerate() {
                println!("{:>2}  {:<12} {:<48} solution: {}", i + 1, e.name(), e.file(), e.solution());
            }
            ExitCode::SUCCESS
        }
        ["check", "all"] => {
            let mut results = Vec::new();
            for e in Exercise::ALL {
                let outcome = check(e, &solutions);
                results.push((e, outcome));
            }
            println!("{}", progress_table(&results));
            if let Some((e, _)) = results.iter().find(|(_, o)| !o.passed()) {
                println!("next: cargo run --profile exercise --example exercises -- check {}", e.name());
            }
            if results.iter().all(|(_, o)| o.passed()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        ["check", name] => {
            let Some(e) = Exercise::from_name(name) else {
                eprintln!("no exercise named {name}\n{USAGE}");
                return ExitCode::from(2);
            };
            println!("{} ({}; solution {})", e.name(), e.file(), e.solution());
            let outcome = if e == Exercise::Learns { learns(&solutions) } else { check(e, &solutions) };
            println!("{outcome}");
            if outcome.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The last exercise with a training curve: the mean return every 20 updates.
fn learns(s: &Solutions) -> Outcome {
    for pre in [Exercise::Surrogate, Exercise::ValueLoss] {
        let outcome = check(pre, s);
        if !outcome.passed() {
            println!("first, {} must pass:", pre.name());
            return outcome;
        }
    }
    println!("training CartPole-v1 with your surrogate and value loss (CleanRL's defaults, seed 1)");
    println!("{:>8}  mean return of the last 100 episodes", "step");
    ppo::exercises::check_learning(s.surrogate, s.value_loss, 500_000, &mut |m| {
        if m.update % 20 == 0 {
            if let Some(r) = m.episodic_return {
                let bar = "#".repeat((r / 10.0) as usize);
                println!("{:>8}  {r:>6.1} {bar}", m.global_step);
            }
        }
    })
}
