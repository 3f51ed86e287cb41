//! Episode animations as standalone SVG files: watch what a policy does, in any browser,
//! with no dependencies and no video encoder.
//!
//! # Approach
//!
//! A drawing is split into a static background (the track, the hill, the goal flag, the
//! target line) and a few rigid *moving parts* (the cart, the pole, the car, each link).
//! Every moving part is drawn once, in its own local frame with the origin at its pivot,
//! inside `<g transform="translate(x y)"><g transform="rotate(a)">…</g></g>`. The episode
//! is then one keyframe list per moving part: a SMIL
//! [`<animateTransform>`](https://www.w3.org/TR/SVG11/animate.html#AnimateTransformElement)
//! whose `values` hold one pose per frame, with `dur` = frames × `dt`,
//! `calcMode="discrete"` (each recorded state is shown for exactly `dt` seconds, nothing
//! is invented between states) and `repeatCount="indefinite"`. A 500-step CartPole episode
//! is three lists of 500 short values (the cart's position, the pole's position and its
//! angle), about 22 KB in all, where 500 separate frames would be hundreds of kilobytes.
//!
//! The step counter is an odometer: one column of glyphs `0`–`9` (and a blank for
//! leading zeros) per decimal place, seen through a one-glyph window and slid by a
//! discrete `translate`. Places above the units change rarely, so their lists keep only
//! the changes, timed by `keyTimes`.
//!
//! The base attributes of every animated element hold the first frame, so a viewer
//! without SMIL (and `rsvg-convert`) shows the initial state.
//!
//! # Drawing conventions
//!
//! Sizes, colours and the direction of each angle follow gymnasium's `render()` methods
//! (`gymnasium/envs/classic_control/*.py`), which draw with y up and flip the image at the
//! end; SVG's y points down, so every y is mirrored here and every counter-clockwise
//! angle becomes a negative SVG `rotate`:
//!
//! - CartPole: 125 px per metre (gymnasium's 600 px for ±2.4 m), a 50×30 cart, a
//!   10 px-wide pole of length 2 × 0.5 m on an axle 7.5 px above the cart's centre;
//!   θ > 0 leans the pole to the right. The canvas is 700 px wide instead of 600 so that a
//!   cart at the ±2.4 m termination bound (marked on the track) is still fully visible.
//! - Pendulum: 1 m rod, θ = 0 upright and θ > 0 counter-clockwise (the tip moves left).
//! - MountainCar: the hill `y = 0.45 sin(3x) + 0.55` over `[-1.2, 0.6]`, the car 10 px
//!   above it and tilted by `cos(3x)` radians, as gymnasium tilts it; the flag at the
//!   goal (0.5, or 0.45 for the continuous variant).
//! - Acrobot: two 1 m links from a fixed pivot, θ₁ = 0 hanging down, θ₁ > 0 swinging the
//!   first link to the right, θ₂ relative to the first link; the target line one link
//!   length above the pivot.
//!
//! # Frame rate
//!
//! `dt` is the number of seconds each state stays on screen. [`default_dt`] gives the
//! real-time value, the environment's own time step where it has one (see its docs).
//!
//! ```
//! use ppo::run::render::{animate_episode, default_dt};
//! let states = vec![vec![0.0, 0.0, 0.01, 0.0], vec![0.01, 0.2, 0.02, 0.3]];
//! let dt = default_dt("CartPole-v1").unwrap(); // 0.02 s, CartPole's tau
//! let svg = animate_episode("CartPole-v1", &states, dt).unwrap();
//! assert!(svg.starts_with("<svg") && svg.contains(r#"dur="0.04s""#));
//! ```

use crate::env::{cartpole, grid_walk, mountain_car, mountain_car_continuous};
use std::fmt::{self, Write};

/// The environment ids that can be drawn, with the length of the state each one takes.
const SUPPORTED: [(&str, usize); 8] = [
    ("CartPole-v1", 4),
    ("CartPoleContinuous-v1", 4),
    ("Pendulum-v1", 2),
    ("Acrobot-v1", 4),
    ("MountainCar-v0", 2),
    ("MountainCarContinuous-v0", 2),
    ("GridWalk-v0", 2),
    ("CartPoleNoVel-v1", 4),
];

/// A user's mistake when asking for a drawing: the message says what was wrong and what
/// is allowed.
#[derive(Debug, Clone, PartialEq)]
pub enum RenderError {
    /// An environment id this module cannot draw.
    UnknownEnv {
        /// The id given.
        id: String,
    },
    /// A state (or observation, for [`state_from_obs`]) of the wrong length.
    WrongStateLength {
        /// The environment id.
        env_id: &'static str,
        /// Index of the offending frame (0 for a single state).
        frame: usize,
        /// Length the environment's state (or observation) has.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// A state component that is NaN or infinite: there is nowhere to draw it.
    NonFinite {
        /// Index of the offending frame.
        frame: usize,
        /// Index of the component within the state.
        index: usize,
    },
    /// [`animate_episode`] was given no states.
    EmptyEpisode,
    /// A frame duration that is not a positive finite number of seconds.
    BadDt {
        /// The value given.
        dt: f64,
    },
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::UnknownEnv { id } => write!(
                f,
                "cannot render environment {id:?}; supported ids: {}",
                supported_env_ids().collect::<Vec<_>>().join(", ")
            ),
            RenderError::WrongStateLength { env_id, frame, expected, got } => {
                write!(f, "frame {frame}: {env_id} takes {expected} values, got {got}")
            }
            RenderError::NonFinite { frame, index } => write!(
                f,
                "frame {frame}: state component {index} is not finite (NaN or infinite), so it cannot be drawn"
            ),
            RenderError::EmptyEpisode => {
                write!(f, "cannot animate an empty episode: give at least one state")
            }
            RenderError::BadDt { dt } => {
                write!(f, "frame duration dt = {dt} s: it must be a positive, finite number of seconds")
            }
        }
    }
}

impl std::error::Error for RenderError {}

/// The environment ids [`frame_svg`] and [`animate_episode`] can draw.
pub fn supported_env_ids() -> impl Iterator<Item = &'static str> {
    SUPPORTED.iter().map(|(id, _)| *id)
}

/// The real-time duration of one frame, in seconds: the environment's time step where it
/// has one, gymnasium's `render_fps` where it has none.
///
/// | id | `dt` | why |
/// |---|---|---|
/// | CartPole-v1, CartPoleContinuous-v1, CartPoleNoVel-v1 | 0.02 | `tau`; also gymnasium's 50 fps |
/// | Pendulum-v1 | 0.05 | `dt` (gymnasium renders at 30 fps, 1.5× faster) |
/// | Acrobot-v1 | 0.2 | `dt` of the RK4 step (gymnasium renders at 15 fps, 3× faster) |
/// | MountainCar-v0, MountainCarContinuous-v0 | 1/30 | no physical time unit; gymnasium's 30 fps |
/// | GridWalk-v0 | 0.25 | four moves a second, to follow by eye |
///
/// Acrobot at real time is 5 frames per second and looks jerky; pass `1.0 / 15.0` to
/// [`animate_episode`] for gymnasium's playback speed.
pub fn default_dt(env_id: &str) -> Result<f64, RenderError> {
    Ok(match lookup(env_id)?.0 {
        "CartPole-v1" | "CartPoleContinuous-v1" | "CartPoleNoVel-v1" => cartpole::TAU,
        "Pendulum-v1" => crate::env::pendulum::DT,
        "Acrobot-v1" => crate::env::acrobot::DT,
        "GridWalk-v0" => 0.25,
        _ => 1.0 / 30.0,
    })
}

/// Recovers the physical state from an observation, for code that only sees
/// observations (the [`crate::env::Env`] trait does not expose the state).
///
/// CartPole and MountainCar observe their state directly; Pendulum's θ is
/// `atan2(sin θ, cos θ)` and Acrobot's θ₁, θ₂ likewise, so angles come back wrapped into
/// `(-π, π]`, which draws the same. The observation must be the raw one, not the output of
/// a [`crate::env::NormalizeObservation`] wrapper.
///
/// ```
/// let s = ppo::run::render::state_from_obs("Pendulum-v1", &[0.0, 1.0, 0.5]).unwrap();
/// assert!((s[0] - std::f64::consts::FRAC_PI_2).abs() < 1e-6 && s[1] == 0.5);
/// ```
pub fn state_from_obs(env_id: &str, obs: &[f32]) -> Result<Vec<f64>, RenderError> {
    let (id, _) = lookup(env_id)?;
    let o: Vec<f64> = obs.iter().map(|&v| v as f64).collect();
    let expected = match id {
        "Pendulum-v1" => 3,
        "Acrobot-v1" => 6,
        "CartPoleNoVel-v1" => 2,
        _ => lookup(id)?.1,
    };
    if o.len() != expected {
        return Err(RenderError::WrongStateLength { env_id: id, frame: 0, expected, got: o.len() });
    }
    Ok(match id {
        // [cos θ, sin θ, θ̇]
        "Pendulum-v1" => vec![o[1].atan2(o[0]), o[2]],
        // [cos θ₁, sin θ₁, cos θ₂, sin θ₂, θ̇₁, θ̇₂]
        "Acrobot-v1" => vec![o[1].atan2(o[0]), o[3].atan2(o[2]), o[4], o[5]],
        // [x, θ]: the velocities, which are not drawn, as 0.
        "CartPoleNoVel-v1" => vec![o[0], 0.0, o[1], 0.0],
        // (x/3 − 1, y/3 − 1) back to the cell.
        "GridWalk-v0" => o.iter().map(|v| ((v + 1.0) * (grid_walk::SIZE / 2) as f64).round()).collect(),
        _ => o,
    })
}

/// A single static frame of `env_id` in `state` (the env's `state()`, see the module
/// docs for each layout), with the state's values written under the title.
///
/// ```
/// let svg = ppo::run::render::frame_svg("Pendulum-v1", &[0.3, 0.0]).unwrap();
/// assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
/// ```
pub fn frame_svg(env_id: &str, state: &[f64]) -> Result<String, RenderError> {
    let (id, _) = lookup(env_id)?;
    check_states(id, &[state])?;
    let scene = build_scene(id, &[state]);
    let mut caption = String::new();
    for (name, v) in state_names(id).iter().zip(state) {
        let _ = write!(caption, "{name} = {}   ", num(*v, 3));
    }
    Ok(write_svg(id, &scene, None, caption.trim_end()))
}

/// An animated SVG of one episode: `states[k]` is the env's `state()` after `k` steps
/// (`states[0]` the reset state), each shown for `dt` seconds, looping forever. See the
/// module docs for the format and [`default_dt`] for real-time values of `dt`.
///
/// Errors on an unknown id, an empty episode, a state of the wrong length, a non-finite
/// value or a `dt` that is not a positive number.
pub fn animate_episode(env_id: &str, states: &[Vec<f64>], dt: f64) -> Result<String, RenderError> {
    let (id, _) = lookup(env_id)?;
    if states.is_empty() {
        return Err(RenderError::EmptyEpisode);
    }
    if !(dt.is_finite() && dt > 0.0) {
        return Err(RenderError::BadDt { dt });
    }
    let states: Vec<&[f64]> = states.iter().map(|s| s.as_slice()).collect();
    check_states(id, &states)?;
    let scene = build_scene(id, &states);
    let dur = num(states.len() as f64 * dt, 3);
    let caption = format!("{} frames, {} s each", states.len(), num(dt, 4));
    Ok(write_svg(id, &scene, Some(&dur), &caption))
}

/// The canonical id and state length of a supported environment.
fn lookup(env_id: &str) -> Result<(&'static str, usize), RenderError> {
    SUPPORTED
        .iter()
        .find(|(id, _)| *id == env_id)
        .copied()
        .ok_or_else(|| RenderError::UnknownEnv { id: env_id.to_string() })
}

fn check_states(id: &'static str, states: &[&[f64]]) -> Result<(), RenderError> {
    let (_, expected) = lookup(id)?;
    for (frame, s) in states.iter().enumerate() {
        if s.len() != expected {
            return Err(RenderError::WrongStateLength { env_id: id, frame, expected, got: s.len() });
        }
        if let Some(index) = s.iter().position(|v| !v.is_finite()) {
            return Err(RenderError::NonFinite { frame, index });
        }
    }
    Ok(())
}

/// Short names for the state components, for the caption of a static frame.
fn state_names(id: &str) -> &'static [&'static str] {
    match id {
        "CartPole-v1" | "CartPoleContinuous-v1" | "CartPoleNoVel-v1" => &["x", "v", "θ", "ω"],
        "Pendulum-v1" => &["θ", "ω"],
        "Acrobot-v1" => &["θ1", "θ2", "ω1", "ω2"],
        "GridWalk-v0" => &["x", "y"],
        _ => &["x", "v"],
    }
}

/// Where a moving part is in one frame: its local origin at `(x, y)` px, turned by `deg`
/// degrees clockwise on screen (SVG's `rotate`).
#[derive(Debug, Clone, Copy)]
struct Pose {
    x: f64,
    y: f64,
    deg: f64,
}

/// A rigid drawing that moves: `body` is SVG markup in local coordinates, `poses` holds
/// one pose per frame; `moves`/`turns` say whether translation and rotation change
/// over the episode (only those get a keyframe list).
struct Part {
    body: String,
    poses: Vec<Pose>,
    moves: bool,
    turns: bool,
}

/// A canvas of `width`×`height` px: static `background` markup under moving `parts`.
struct Scene {
    width: f64,
    height: f64,
    background: String,
    parts: Vec<Part>,
}

fn build_scene(id: &str, states: &[&[f64]]) -> Scene {
    match id {
        "CartPole-v1" | "CartPoleContinuous-v1" | "CartPoleNoVel-v1" => cartpole_scene(states),
        "Pendulum-v1" => pendulum_scene(states),
        "Acrobot-v1" => acrobot_scene(states),
        "MountainCar-v0" => mountain_car_scene(states, mountain_car::GOAL_POSITION),
        "GridWalk-v0" => grid_walk_scene(states),
        _ => mountain_car_scene(states, mountain_car_continuous::GOAL_POSITION),
    }
}

/// Cart and pole on a track (gymnasium `CartPoleEnv.render`). State `[x, ẋ, θ, θ̇]`.
fn cartpole_scene(states: &[&[f64]]) -> Scene {
    let (width, height) = (700.0, 300.0);
    let scale = 600.0 / (2.0 * cartpole::X_THRESHOLD); // 125 px per metre
    let to_px = |x: f64| width / 2.0 + x * scale;
    let (cart_w, cart_h, pole_w) = (50.0, 30.0, 10.0);
    let pole_len = scale * 2.0 * cartpole::LENGTH;
    let track_y = 240.0;
    // gymnasium puts the axle a quarter of the cart's height above its centre.
    let axle_y = track_y - cart_h / 2.0 - cart_h / 4.0;

    let mut bg = String::new();
    let _ = write!(bg, r##"<line x1="0" y1="{track_y}" x2="{width}" y2="{track_y}" stroke="#000"/>"##);
    // Ticks at the centre and at the ±2.4 m termination bounds.
    for x in [-cartpole::X_THRESHOLD, 0.0, cartpole::X_THRESHOLD] {
        let colour = if x == 0.0 { "#000" } else { "#c00" };
        let _ = write!(
            bg,
            r#"<line x1="{px}" y1="{y1}" x2="{px}" y2="{y2}" stroke="{colour}"/>"#,
            px = num(to_px(x), 2),
            y1 = track_y,
            y2 = track_y + 10.0,
        );
    }
    // Both parts have their origin on the axle, so the pole turns about it.
    let cart = format!(
        r##"<rect x="{}" y="{}" width="{cart_w}" height="{cart_h}" fill="#000"/>"##,
        -cart_w / 2.0,
        track_y - cart_h - axle_y,
    );
    let pole = format!(
        r##"<rect x="{}" y="{}" width="{pole_w}" height="{}" fill="#ca9865"/><circle r="{}" fill="#8184cb"/>"##,
        -pole_w / 2.0,
        -(pole_len - pole_w / 2.0),
        num(pole_len, 2),
        pole_w / 2.0,
    );
    let pose = |s: &[f64], deg: f64| Pose { x: to_px(s[0]), y: axle_y, deg };
    Scene {
        width,
        height,
        background: bg,
        parts: vec![
            Part { body: cart, poses: states.iter().map(|s| pose(s, 0.0)).collect(), moves: true, turns: false },
            Part {
                body: pole,
                // θ > 0 leans right: clockwise on screen, a positive SVG rotate.
                poses: states.iter().map(|s| pose(s, s[2].to_degrees())).collect(),
                moves: true,
                turns: true,
            },
        ],
    }
}

/// The pendulum rod about its axle (gymnasium `PendulumEnv.render`). State `[θ, θ̇]`.
fn pendulum_scene(states: &[&[f64]]) -> Scene {
    let size = 400.0;
    let scale = size / (2.0 * 2.2); // gymnasium's bound of 2.2 m
    let c = size / 2.0;
    let (len, w) = (num(scale * crate::env::pendulum::L, 2), num(0.2 * scale, 2));
    let bg = format!(r##"<circle cx="{c}" cy="{c}" r="{len}" fill="none" stroke="#ccc" stroke-dasharray="4 4"/>"##);
    let rod = format!(
        r##"<line x1="0" y1="0" x2="0" y2="-{len}" stroke="#cc4d4d" stroke-width="{w}" stroke-linecap="round"/><circle r="{}" fill="#000"/>"##,
        num(0.05 * scale, 2)
    );
    Scene {
        width: size,
        height: size,
        background: bg,
        parts: vec![Part {
            body: rod,
            // θ > 0 is counter-clockwise (gymnasium rotates by θ + π/2 with y up).
            poses: states.iter().map(|s| Pose { x: c, y: c, deg: -s[0].to_degrees() }).collect(),
            moves: false,
            turns: true,
        }],
    }
}

/// Two links from a fixed pivot and the target line (gymnasium `AcrobotEnv.render`).
/// State `[θ₁, θ₂, θ̇₁, θ̇₂]`.
fn acrobot_scene(states: &[&[f64]]) -> Scene {
    let size = 400.0;
    let l = crate::env::acrobot::LINK_LENGTH_1; // both links are 1 m
    let scale = size / (2.0 * (2.0 * l + 0.2));
    // The upright acrobot reaches 2 m above the pivot: 60 px more at the top keep its
    // tip clear of the title and caption.
    let (c, cy) = (size / 2.0, size / 2.0 + 60.0);
    let target_y = num(cy - l * scale, 2);
    let bg = format!(r##"<line x1="0" y1="{target_y}" x2="{size}" y2="{target_y}" stroke="#000"/>"##);
    // A link hangs down from its origin; its joint is drawn over it, as gymnasium does.
    let link = format!(
        r##"<line x1="0" y1="0" x2="0" y2="{}" stroke="#0cc" stroke-width="{}"/><circle r="{}" fill="#cc0"/>"##,
        num(l * scale, 2),
        num(0.2 * scale, 2),
        num(0.1 * scale, 2),
    );
    // Link 1 points along (sin θ₁, −cos θ₁) with y up, i.e. (sin θ₁, cos θ₁) on screen:
    // the downward link turned by −θ₁ in SVG's clockwise convention.
    let elbow = |s: &[f64]| Pose {
        x: c + l * scale * s[0].sin(),
        y: cy + l * scale * s[0].cos(),
        deg: -(s[0] + s[1]).to_degrees(),
    };
    Scene {
        width: size,
        height: size + 60.0,
        background: bg,
        parts: vec![
            Part {
                body: link.clone(),
                poses: states.iter().map(|s| Pose { x: c, y: cy, deg: -s[0].to_degrees() }).collect(),
                moves: false,
                turns: true,
            },
            Part { body: link, poses: states.iter().map(|s| elbow(s)).collect(), moves: true, turns: true },
        ],
    }
}

/// The hill, the goal flag and the car (gymnasium `MountainCarEnv.render`). State
/// `[position, velocity]`.
fn mountain_car_scene(states: &[&[f64]], goal: f64) -> Scene {
    let (width, height) = (600.0, 400.0);
    let (lo, hi) = (mountain_car::MIN_POSITION, mountain_car::MAX_POSITION);
    let scale = width / (hi - lo);
    let hill = |x: f64| (3.0 * x).sin() * 0.45 + 0.55;
    let to_px = |x: f64, up: f64| ((x - lo) * scale, height - up);

    let mut bg = String::from(r#"<path d="M"#);
    for i in 0..100 {
        let x = lo + (hi - lo) * i as f64 / 99.0;
        let (px, py) = to_px(x, hill(x) * scale);
        let _ = write!(bg, "{}{},{}", if i == 0 { "" } else { " L" }, num(px, 1), num(py, 1));
    }
    let _ = write!(bg, r##" L{width},{height} L0,{height} Z" fill="#eee" stroke="#000"/>"##);
    // The flag: a 50 px pole from the hill at the goal, a yellow pennant at its top.
    let (fx, fy) = to_px(goal, hill(goal) * scale);
    let top = fy - 50.0;
    let _ = write!(
        bg,
        r##"<line x1="{fx}" y1="{fy}" x2="{fx}" y2="{top}" stroke="#000"/><polygon points="{fx},{top} {fx},{low} {tip},{mid}" fill="#cc0"/>"##,
        fx = num(fx, 1),
        fy = num(fy, 1),
        top = num(top, 1),
        low = num(top + 10.0, 1),
        tip = num(fx + 25.0, 1),
        mid = num(top + 5.0, 1),
    );
    let car = r##"<rect x="-20" y="-20" width="40" height="20" fill="#000"/><circle cx="-10" r="8" fill="#808080"/><circle cx="10" r="8" fill="#808080"/>"##;
    Scene {
        width,
        height,
        background: bg,
        parts: vec![Part {
            body: car.to_string(),
            poses: states
                .iter()
                .map(|s| {
                    // 10 px of clearance above the hill; gymnasium tilts the car by
                    // cos(3x) radians counter-clockwise (close to the slope's angle,
                    // atan(1.35 cos 3x), but not equal to it).
                    let (x, y) = to_px(s[0], hill(s[0]) * scale + 10.0);
                    Pose { x, y, deg: -(3.0 * s[0]).cos().to_degrees() }
                })
                .collect(),
            moves: true,
            turns: true,
        }],
    }
}

/// The 7×7 grid, the goal cell shaded, and the walker as a disc (the crate's own
/// drawing: GridWalk-v0 is not a gymnasium environment). State `[x, y]`, the cell, with
/// `y` up.
fn grid_walk_scene(states: &[&[f64]]) -> Scene {
    let n = grid_walk::SIZE;
    let (cell, top) = (50.0, 60.0);
    let (width, height) = (n as f64 * cell + 20.0, n as f64 * cell + top + 10.0);
    let corner = |x: f64, y: f64| (10.0 + x * cell, top + (n as f64 - 1.0 - y) * cell);
    let (gx, gy) = corner(grid_walk::GOAL.0 as f64, grid_walk::GOAL.1 as f64);
    let mut bg = format!(r##"<rect x="{gx}" y="{gy}" width="{cell}" height="{cell}" fill="#cc0"/>"##);
    for i in 0..=n {
        let at = i as f64 * cell;
        let _ = write!(
            bg,
            r##"<line x1="10" y1="{y}" x2="{x2}" y2="{y}" stroke="#999"/><line x1="{x}" y1="{top}" x2="{x}" y2="{y2}" stroke="#999"/>"##,
            y = top + at,
            x2 = 10.0 + n as f64 * cell,
            x = 10.0 + at,
            y2 = top + n as f64 * cell,
        );
    }
    let walker = format!(r##"<circle r="{}" fill="#8184cb"/>"##, cell * 0.35);
    let pose = |s: &[f64]| {
        let (x, y) = corner(s[0], s[1]);
        Pose { x: x + cell / 2.0, y: y + cell / 2.0, deg: 0.0 }
    };
    Scene {
        width,
        height,
        background: bg,
        parts: vec![Part { body: walker, poses: states.iter().map(|s| pose(s)).collect(), moves: true, turns: false }],
    }
}

/// Font size and glyph box of the title and counter text (monospace, 0.6 em advance).
const FONT: f64 = 14.0;
const GLYPH_W: f64 = 8.4;
const GLYPH_H: f64 = 18.0;

/// Writes the whole document. `dur` (already formatted, in seconds) makes it an
/// animation; without it the first pose of each part is drawn statically.
fn write_svg(id: &str, scene: &Scene, dur: Option<&str>, caption: &str) -> String {
    let (w, h) = (scene.width, scene.height);
    let mut out = String::with_capacity(4096 + 32 * scene.parts.len() * scene.parts[0].poses.len());
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="monospace" font-size="{FONT}">"#
    );
    let _ = writeln!(out, r##"<rect width="{w}" height="{h}" fill="#fff"/>"##);
    let _ = writeln!(out, "{}", scene.background);
    for part in &scene.parts {
        let p0 = part.poses[0];
        let _ = write!(out, r#"<g transform="translate({} {})">"#, num(p0.x, 2), num(p0.y, 2));
        if let (Some(dur), true) = (dur, part.moves) {
            let values = part.poses.iter().map(|p| format!("{},{}", num(p.x, 2), num(p.y, 2)));
            write_animation(&mut out, "translate", dur, values, None);
        }
        let _ = write!(out, r#"<g transform="rotate({})">"#, num(wrap_deg(p0.deg), 2));
        if let (Some(dur), true) = (dur, part.turns) {
            let values = part.poses.iter().map(|p| num(wrap_deg(p.deg), 2));
            write_animation(&mut out, "rotate", dur, values, None);
        }
        let _ = writeln!(out, "{}</g></g>", part.body);
    }
    let _ = writeln!(out, r#"<text x="10" y="20">{id}</text>"#);
    let caption_y = 20.0 + GLYPH_H;
    match dur {
        Some(dur) => {
            let frames = scene.parts[0].poses.len();
            write_counter(&mut out, frames, dur, caption_y);
            let _ = writeln!(out, r##"<text x="10" y="{}" fill="#666">{caption}</text>"##, caption_y + GLYPH_H);
        }
        None => {
            let _ = writeln!(out, r##"<text x="10" y="{caption_y}" fill="#666">{caption}</text>"##);
        }
    }
    out.push_str("</svg>\n");
    out
}

/// One `<animateTransform>`: a keyframe per frame, or with `key_times` (fractions of
/// `dur`, starting at 0) one keyframe per change.
fn write_animation(
    out: &mut String,
    kind: &str,
    dur: &str,
    values: impl Iterator<Item = String>,
    key_times: Option<&[f64]>,
) {
    let _ = write!(
        out,
        r#"<animateTransform attributeName="transform" type="{kind}" dur="{dur}s" repeatCount="indefinite" calcMode="discrete" values=""#
    );
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(&v);
    }
    if let Some(times) = key_times {
        out.push_str(r#"" keyTimes=""#);
        for (i, t) in times.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(&num(*t, 6));
        }
    }
    out.push_str(r#""/>"#);
}

/// "step k/last": an odometer with one window per decimal place (see the module docs).
fn write_counter(out: &mut String, frames: usize, dur: &str, baseline: f64) {
    let last = frames - 1;
    let places = last.to_string().len();
    let _ = write!(out, r#"<text x="10" y="{baseline}">step</text>"#);
    let x0 = 10.0 + 5.0 * GLYPH_W;
    let top = baseline - FONT;
    for place in 0..places {
        // Places are laid out most significant first.
        let x = x0 + (places - 1 - place) as f64 * GLYPH_W;
        let power = 10usize.pow(place as u32);
        // Glyph 10 is a blank, for leading zeros.
        let glyph = |k: usize| if place > 0 && k < power { 10 } else { k / power % 10 };
        let _ = write!(
            out,
            r#"<svg x="{}" y="{}" width="{GLYPH_W}" height="{GLYPH_H}" overflow="hidden"><g transform="translate(0,{})">"#,
            num(x, 2),
            num(top, 2),
            num(-(glyph(0) as f64) * GLYPH_H, 2),
        );
        // Keep only the frames where the glyph changes, timed by keyTimes.
        let changes: Vec<usize> = (0..frames).filter(|&k| k == 0 || glyph(k) != glyph(k - 1)).collect();
        if frames > 1 {
            let values = changes.iter().map(|&k| format!("0,{}", num(-(glyph(k) as f64) * GLYPH_H, 2)));
            let times: Vec<f64> = changes.iter().map(|&k| k as f64 / frames as f64).collect();
            write_animation(out, "translate", dur, values, (changes.len() < frames).then_some(&times[..]));
        }
        for g in 0..10 {
            let _ = write!(out, r#"<text y="{}">{g}</text>"#, num(FONT + g as f64 * GLYPH_H, 2));
        }
        out.push_str("</g></svg>");
    }
    let _ = writeln!(out, r#"<text x="{}" y="{baseline}">/{last}</text>"#, num(x0 + places as f64 * GLYPH_W + 2.0, 2));
}

/// An angle in degrees, wrapped into `[-180, 180)` so that the lists stay short.
fn wrap_deg(deg: f64) -> f64 {
    (deg + 180.0).rem_euclid(360.0) - 180.0
}

/// `v` with at most `decimals` decimals, trailing zeros dropped (`1.50` → `1.5`,
/// `-0.00` → `0`), to keep the keyframe lists short.
fn num(v: f64, decimals: usize) -> String {
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_trims() {
        assert_eq!(num(1.5, 2), "1.5");
        assert_eq!(num(-0.001, 2), "0");
        assert_eq!(num(10.0, 3), "10");
        assert_eq!(num(0.125, 2), "0.12"); // round-half-even on the binary value
        assert_eq!(wrap_deg(190.0), -170.0);
    }
}
