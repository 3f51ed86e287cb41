//! Episode animations: for every environment, a seeded random-action episode of the real
//! environment is rendered and the SVG is checked for structure (well-formed, one keyframe
//! per frame, the right `dur`, parts that actually move); the drawing conventions are
//! checked on single frames; bad input gives typed errors. Examples are written to
//! `target/tmp/render/` for viewing (`rsvg-convert` shows the first frame, a browser plays
//! the animation).

use ppo::env::{make, Action, Env, Space};
use ppo::run::render::{animate_episode, default_dt, frame_svg, state_from_obs, supported_env_ids, RenderError};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

/// Checks that every element is closed in order (`<a>..</a>`, `<b/>`) and that text has
/// no stray `<` or `&`; returns the number of elements.
fn assert_well_formed(svg: &str) -> usize {
    let mut stack: Vec<&str> = Vec::new();
    let mut count = 0;
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        assert!(!rest[..start].contains('&'), "'&' in text: {}", &rest[..start]);
        let end = rest[start..].find('>').expect("unclosed '<'") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in <{tag}>");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
        } else {
            count += 1;
            let name = tag.split_whitespace().next().unwrap_or("");
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    assert!(svg.starts_with("<svg "), "does not start with <svg");
    count
}

/// The value of `name="..."` in one tag.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// One `<animateTransform>`: its type, `values`, optional `keyTimes` and `dur`.
#[derive(Debug)]
struct Anim {
    kind: String,
    values: Vec<String>,
    key_times: Option<Vec<f64>>,
    dur: String,
}

fn animations(svg: &str) -> Vec<Anim> {
    svg.split("<animateTransform")
        .skip(1)
        .map(|rest| {
            let tag = &rest[..rest.find("/>").expect("animateTransform not self-closed")];
            assert_eq!(attr(tag, "repeatCount"), Some("indefinite"));
            assert_eq!(attr(tag, "calcMode"), Some("discrete"));
            assert_eq!(attr(tag, "attributeName"), Some("transform"));
            Anim {
                kind: attr(tag, "type").unwrap().to_string(),
                values: attr(tag, "values").unwrap().split(';').map(str::to_string).collect(),
                key_times: attr(tag, "keyTimes").map(|k| k.split(';').map(|t| t.parse().unwrap()).collect()),
                dur: attr(tag, "dur").unwrap().to_string(),
            }
        })
        .collect()
}

/// The moving parts' animations: those before the first text (the counter comes after).
fn part_animations(svg: &str) -> Vec<Anim> {
    animations(&svg[..svg.find("<text").unwrap()])
}

/// A seeded episode of the real environment under uniformly random actions, at most
/// `max_steps` steps; states recovered from the observations.
fn random_episode(id: &str, seed: u64, max_steps: usize) -> Vec<Vec<f64>> {
    let mut env = make(id).unwrap();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut obs = vec![0.0f32; env.observation_space().flat_dim()];
    env.reset(Some(seed), &mut obs);
    let mut states = vec![state_from_obs(id, &obs).unwrap()];
    for _ in 0..max_steps {
        let step = match env.action_space() {
            Space::Discrete(n) => env.step(Action::Discrete(rng.random_range(0..n)), &mut obs),
            Space::Box(b) => {
                let a: Vec<f32> = (0..b.dim()).map(|i| rng.random_range(b.low[i]..=b.high[i])).collect();
                env.step(Action::Continuous(&a), &mut obs)
            }
            Space::MultiDiscrete(nvec) => {
                let a: Vec<usize> = nvec.iter().map(|&k| rng.random_range(0..k)).collect();
                env.step(Action::MultiDiscrete(&a), &mut obs)
            }
        }
        .unwrap();
        states.push(state_from_obs(id, &obs).unwrap());
        if step.done() {
            break;
        }
    }
    states
}

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("render");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_env_animates_a_random_episode() {
    let ids: Vec<&str> = supported_env_ids().collect();
    assert_eq!(ids, ppo::env::env_ids(), "every registered env can be drawn");
    for (seed, id) in ids.iter().enumerate() {
        let states = random_episode(id, seed as u64, 80);
        let frames = states.len();
        assert!(frames > 5, "{id}: episode of {frames} frames is too short to test");
        let dt = default_dt(id).unwrap();
        let svg = animate_episode(id, &states, dt).unwrap();
        assert_well_formed(&svg);
        assert!(svg.contains(id), "{id}: title missing");

        let anims = animations(&svg);
        assert!(!anims.is_empty());
        let dur: f64 = anims[0].dur.strip_suffix('s').unwrap().parse().unwrap();
        assert!((dur - frames as f64 * dt).abs() < 1e-3, "{id}: dur {dur} s for {frames} frames of {dt} s");
        for a in &anims {
            assert_eq!(a.dur, anims[0].dur, "{id}: all animations share one clock");
            match &a.key_times {
                // A full list: one keyframe per frame.
                None => assert_eq!(a.values.len(), frames, "{id}: {a:?}"),
                // A list of changes (counter digits): one time per value, from 0, increasing.
                Some(t) => {
                    assert_eq!(t.len(), a.values.len(), "{id}");
                    assert_eq!(t[0], 0.0);
                    assert!(t.windows(2).all(|w| w[0] < w[1] && w[1] < 1.0), "{t:?}");
                }
            }
        }

        let parts = part_animations(&svg);
        assert!(!parts.is_empty(), "{id}: no moving parts");
        for a in &parts {
            assert_eq!(a.key_times, None, "{id}: parts have a keyframe per frame");
            let distinct: std::collections::HashSet<&String> = a.values.iter().collect();
            assert!(distinct.len() > 1, "{id}: {} part does not move: {:?}", a.kind, &a.values[..3]);
        }

        let name = id.to_lowercase();
        std::fs::write(out_dir().join(format!("{name}.svg")), &svg).unwrap();
        let mid = frame_svg(id, &states[frames / 2]).unwrap();
        std::fs::write(out_dir().join(format!("{name}-frame.svg")), mid).unwrap();
    }
}

#[test]
fn which_parts_move_for_each_env() {
    let kinds = |id: &str, states: &[Vec<f64>]| -> Vec<String> {
        let svg = animate_episode(id, states, 0.1).unwrap();
        part_animations(&svg).into_iter().map(|a| a.kind).collect()
    };
    let cp = [vec![0.0, 0.0, 0.0, 0.0], vec![0.1, 0.0, 0.05, 0.0]];
    assert_eq!(kinds("CartPole-v1", &cp), ["translate", "translate", "rotate"]);
    assert_eq!(kinds("Pendulum-v1", &[vec![0.0, 0.0], vec![1.0, 0.0]]), ["rotate"]);
    let mc = [vec![-0.5, 0.0], vec![-0.4, 0.0]];
    assert_eq!(kinds("MountainCar-v0", &mc), ["translate", "rotate"]);
    let ac = [vec![0.0; 4], vec![0.5, 0.5, 0.0, 0.0]];
    assert_eq!(kinds("Acrobot-v1", &ac), ["rotate", "translate", "rotate"]);
}

/// The `(x y)` of the n-th `translate(...)` and the angle of the n-th `rotate(...)` of a
/// static frame.
fn transforms(svg: &str) -> (Vec<(f64, f64)>, Vec<f64>) {
    let grab = |prefix: &str| -> Vec<Vec<f64>> {
        svg.split(prefix)
            .skip(1)
            .map(|r| r[..r.find(')').unwrap()].split([' ', ',']).map(|v| v.parse().unwrap()).collect())
            .collect()
    };
    let tr = grab("transform=\"translate(").into_iter().map(|v| (v[0], v[1])).collect();
    let rot = grab("transform=\"rotate(").into_iter().map(|v| v[0]).collect();
    (tr, rot)
}

#[test]
fn static_frames_follow_gymnasium_conventions() {
    // CartPole: 125 px per metre about the centre of a 700 px canvas; θ > 0 leans right,
    // which is a clockwise (positive) SVG rotation.
    let svg = frame_svg("CartPole-v1", &[1.0, 0.0, 0.2, 0.0]).unwrap();
    assert_well_formed(&svg);
    assert!(!svg.contains("<animate"), "a frame is static");
    let (tr, rot) = transforms(&svg);
    assert_eq!(tr[0].0, 350.0 + 125.0);
    assert_eq!(rot[1], 11.46); // 0.2 rad
    assert!(svg.contains("x = 1   v = 0   θ = 0.2   ω = 0"), "caption: {svg}");

    // Pendulum: θ = 0 is upright, θ > 0 counter-clockwise (negative SVG rotation).
    let (_, rot) = transforms(&frame_svg("Pendulum-v1", &[0.5, 0.0]).unwrap());
    assert_eq!(rot[0], -28.65);
    // Angles are wrapped into [-180, 180): 2π + 0.5 draws as 0.5.
    let (_, rot) = transforms(&frame_svg("Pendulum-v1", &[0.5 + 2.0 * std::f64::consts::PI, 0.0]).unwrap());
    assert_eq!(rot[0], -28.65);

    // MountainCar: at the valley floor (x = -π/6, height 0.1) the car sits 10 px above
    // the hill and is level (cos(3x) = 0).
    let x = -std::f64::consts::FRAC_PI_6;
    let (tr, rot) = transforms(&frame_svg("MountainCar-v0", &[x, 0.0]).unwrap());
    let scale = 600.0 / 1.8;
    assert!((tr[0].0 - (x + 1.2) * scale).abs() < 0.01);
    assert!((tr[0].1 - (400.0 - 0.1 * scale - 10.0)).abs() < 0.01);
    assert_eq!(rot[0], 0.0);

    // Acrobot: θ₁ = π/2 puts the elbow one link to the right of the pivot (200, 260).
    let (tr, rot) = transforms(&frame_svg("Acrobot-v1", &[std::f64::consts::FRAC_PI_2, 0.0, 0.0, 0.0]).unwrap());
    let scale = 400.0 / 4.4;
    assert!((tr[1].0 - (200.0 + scale)).abs() < 0.01 && (tr[1].1 - 260.0).abs() < 0.01);
    assert_eq!(rot, [-90.0, -90.0]);

    // The two goal flags differ.
    let flag = |id: &str| {
        let svg = frame_svg(id, &[-0.5, 0.0]).unwrap();
        let line = &svg[svg.find("<line x1=\"").unwrap()..];
        attr(line, "x1").unwrap().parse::<f64>().unwrap()
    };
    assert!((flag("MountainCar-v0") - 1.7 * scale_mc()).abs() < 0.1);
    assert!((flag("MountainCarContinuous-v0") - 1.65 * scale_mc()).abs() < 0.1);

    for id in supported_env_ids() {
        let n = if id.starts_with("CartPole") || id.starts_with("Acrobot") { 4 } else { 2 };
        let svg = frame_svg(id, &vec![0.1; n]).unwrap();
        assert_well_formed(&svg);
        std::fs::write(out_dir().join(format!("{}-static.svg", id.to_lowercase())), svg).unwrap();
    }
}

fn scale_mc() -> f64 {
    600.0 / 1.8
}

#[test]
fn state_from_obs_recovers_the_env_state() {
    use ppo::env::{Acrobot, CartPole, Pendulum};
    let wrap = |a: f64| (a + std::f64::consts::PI).rem_euclid(2.0 * std::f64::consts::PI);
    let close = |a: &[f64], b: &[f64], angles: &[usize]| {
        for i in 0..a.len() {
            let (x, y) = if angles.contains(&i) { (wrap(a[i]), wrap(b[i])) } else { (a[i], b[i]) };
            assert!((x - y).abs() < 1e-5, "component {i}: {a:?} vs {b:?}");
        }
    };
    let mut obs = vec![0.0f32; 6];

    let mut env = Pendulum::new();
    env.reset(Some(3), &mut obs[..3]);
    for _ in 0..30 {
        env.step(Action::Continuous(&[1.5]), &mut obs[..3]).unwrap();
    }
    close(&state_from_obs("Pendulum-v1", &obs[..3]).unwrap(), &env.state(), &[0]);

    let mut env = Acrobot::new();
    env.reset(Some(3), &mut obs);
    for _ in 0..30 {
        env.step(Action::Discrete(2), &mut obs).unwrap();
    }
    close(&state_from_obs("Acrobot-v1", &obs).unwrap(), &env.state(), &[0, 1]);

    let mut env = CartPole::new();
    env.reset(Some(3), &mut obs[..4]);
    env.step(Action::Discrete(1), &mut obs[..4]).unwrap();
    close(&state_from_obs("CartPole-v1", &obs[..4]).unwrap(), &env.state(), &[]);

    let err = state_from_obs("Pendulum-v1", &[1.0, 0.0]).unwrap_err();
    assert_eq!(err, RenderError::WrongStateLength { env_id: "Pendulum-v1", frame: 0, expected: 3, got: 2 });
}

#[test]
fn a_full_cartpole_episode_stays_small() {
    // 500 frames with every value changing (the worst case for the keyframe lists).
    let states: Vec<Vec<f64>> = (0..500)
        .map(|k| {
            let t = k as f64 * 0.02;
            vec![2.0 * (0.7 * t).sin(), 0.0, 0.2 * (3.1 * t).sin(), 0.0]
        })
        .collect();
    let svg = animate_episode("CartPole-v1", &states, 0.02).unwrap();
    assert_well_formed(&svg);
    assert!(svg.contains(r#"dur="10s""#));
    println!("500-frame CartPole-v1 animation: {} bytes", svg.len());
    assert!(svg.len() < 50_000, "{} bytes", svg.len());
    std::fs::write(out_dir().join("cartpole-500.svg"), &svg).unwrap();

    // The longest episode of any env: 1000 frames of MountainCarContinuous-v0.
    let states: Vec<Vec<f64>> = (0..1000).map(|k| vec![-0.5 + 0.6 * (k as f64 * 0.02).sin(), 0.0]).collect();
    let svg = animate_episode("MountainCarContinuous-v0", &states, 1.0 / 30.0).unwrap();
    assert_well_formed(&svg);
    println!("1000-frame MountainCarContinuous-v0 animation: {} bytes", svg.len());
    assert!(svg.len() < 100_000, "{} bytes", svg.len());
}

#[test]
fn bad_input_is_a_typed_error() {
    let ok = vec![vec![0.0; 4]; 3];

    let err = animate_episode("CartPole-v0", &ok, 0.02).unwrap_err();
    assert_eq!(err, RenderError::UnknownEnv { id: "CartPole-v0".into() });
    let msg = err.to_string();
    for id in supported_env_ids() {
        assert!(msg.contains(id), "{msg}");
    }
    assert!(frame_svg("LunarLander-v3", &[0.0]).is_err());
    assert!(default_dt("nope").is_err());

    let mut bad = ok.clone();
    bad[2] = vec![0.0; 3];
    let err = animate_episode("Acrobot-v1", &bad, 0.2).unwrap_err();
    assert_eq!(err, RenderError::WrongStateLength { env_id: "Acrobot-v1", frame: 2, expected: 4, got: 3 });
    assert!(err.to_string().contains("expected 4") || err.to_string().contains("takes 4"));
    assert!(err.to_string().contains("got 3"), "{err}");
    let err = frame_svg("Pendulum-v1", &[0.0; 3]).unwrap_err();
    assert!(matches!(err, RenderError::WrongStateLength { expected: 2, got: 3, .. }));

    let err = animate_episode("CartPole-v1", &[], 0.02).unwrap_err();
    assert_eq!(err, RenderError::EmptyEpisode);
    assert!(err.to_string().contains("empty"));

    let mut nan = ok.clone();
    nan[1][2] = f64::NAN;
    assert_eq!(animate_episode("CartPole-v1", &nan, 0.02).unwrap_err(), RenderError::NonFinite { frame: 1, index: 2 });
    for dt in [0.0, -0.02, f64::NAN, f64::INFINITY] {
        assert!(matches!(animate_episode("CartPole-v1", &ok, dt), Err(RenderError::BadDt { .. })));
    }
    // A boxed error, for `?` in a `main` returning `Box<dyn Error>`.
    let _: Box<dyn std::error::Error> = Box::new(RenderError::EmptyEpisode);
}

#[test]
fn a_single_frame_episode_and_the_counter() {
    let svg = animate_episode("Pendulum-v1", &[vec![0.0, 0.0]], 0.05).unwrap();
    assert_well_formed(&svg);
    assert!(svg.contains(r#"dur="0.05s""#));
    assert!(svg.contains(">/0<"), "counter reads step 0/0");

    // 120 frames: three digit places; the hundreds place changes once, at frame 100.
    let states = vec![vec![0.0, 0.0]; 120];
    let svg = animate_episode("MountainCar-v0", &states, 0.05).unwrap();
    assert!(svg.contains(">/119<"));
    let counter = animations(&svg[svg.find("<text").unwrap()..]);
    assert_eq!(counter.len(), 3);
    assert_eq!(counter[0].key_times, None); // units: a keyframe per frame
    assert_eq!(counter[0].values.len(), 120);
    // Hundreds: blank until frame 100, then 1 (keyTimes have 6 decimals).
    let hundreds = &counter[2];
    assert_eq!(hundreds.values.len(), 2);
    let t = hundreds.key_times.as_ref().unwrap();
    assert_eq!(t[0], 0.0);
    assert!((t[1] - 100.0 / 120.0).abs() < 1e-6, "{t:?}");
    // Tens: blank for 0..10, then 1..9, then 0 and 1 again: 12 values.
    assert_eq!(counter[1].values.len(), 12);
}
