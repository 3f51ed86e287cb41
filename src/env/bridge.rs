//! Any gymnasium environment, through a Python process: `gym:HalfCheetah-v5`, or a
//! user's own `py:my_module:make_env`.
//!
//! [`GymVecEnv`] (a [`VecEnv`]) and [`GymEnv`] (an [`Env`]) start
//! `python3 -c <python/ppo_gym_bridge.py>` — the script is embedded in the crate, so `ppo`
//! works from any directory — and talk to it over its stdin and stdout; the id, N and
//! whether to reset automatically travel in the hello frame.
//! The N environments live in that one process (or are spread over
//! [`BridgeOptions::workers`] processes, stepped at the same time, for more cores) and
//! follow the crate's vector semantics there: environment i is seeded `seed + i`, an episode that ends is reset in the same
//! step with its last observation in `final_obs`, and terminated and truncated stay
//! apart. The interpreter is [`BridgeOptions::python`]: the config key `python`, else the
//! `PPO_PYTHON` environment variable, else `python3`. The child runs in its own process
//! group, so Ctrl-C reaches `ppo` alone, which then closes the child; a child whose `ppo`
//! died sees its stdin close and exits.
//!
//! ## The protocol (version 1)
//!
//! Every message is a frame: a `u32` length, then that many bytes, the first of which is
//! the operation. Numbers are little-endian; arrays are packed without padding. A reply's
//! operation is the request's with the high bit set (`0x80 | op`), or `0xFF` for an error.
//!
//! | request | payload | reply payload |
//! |---|---|---|
//! | `1` hello | `u32` version, `u32` N, `u8` autoreset, `u32` id length, id (UTF-8) | `u32` version, `i64` max episode steps (−1: none), `f64` reward threshold (NaN: none), observation space, action space |
//! | `2` reset | `u8` has seed, `u64` seed | N×O observations |
//! | `3` step | N `i64` (Discrete), N×D `i64` (MultiDiscrete) or N×A `f32` (Box) actions | N×O obs, N `f64` rewards, N `u8` terminated, N `u8` truncated, N×O final obs |
//! | `4` state | `u32` env index | `u32` K, K `f64`: `env.unwrapped.state` |
//! | `5` close | | (empty), then the process exits |
//! | `6` render | `u32` env index | `u32` height, `u32` width, `f64` frames per second, height×width×3 `u8` RGB: `env.render()` |
//! | `7` masks | | `u8` 0 (no masks), or `u8` 1 and N×L `u8`: each environment's `action_masks()` |
//! | `8` lives | `u32` env index | `i64`: an Atari game's `env.unwrapped.ale.lives()`, −1 for any other |
//! | `9` meanings | `u32` env index | `u32` K, then K × (`u32` length, UTF-8): `env.unwrapped.get_action_meanings()` (K = 0 without it) |
//!
//! Render needs environments made with `render_mode="rgb_array"`, which
//! [`BridgeOptions::pixels`] asks for (`PPO_BRIDGE_RENDER=1` in the process's
//! environment). A space is `u8` kind then, for Discrete (0), `i64` n and `i64` start; for
//! Box (1), `u32` rank, rank × `u32` dims, then the flat low and high bounds as `f64`
//! (kind 3 for an observation Box of bytes or booleans); for
//! MultiDiscrete (2), `u32` D, D × `i64` n and D × `i64` start (a multi-dimensional `nvec`
//! is flattened). The masks are SB3 `MaskablePPO`'s: an environment method
//! `action_masks()` (found through the wrappers) returning L = Σ n booleans. Any
//! other space, and image observations (a Box of bytes with 2 or 3 dimensions), are an
//! error naming them. An error reply is `u32` length and UTF-8 text: a kind
//! (`missing_gymnasium`, `unknown_env`, `make_failed`, `unsupported_space`,
//! `env_raised`, `protocol`), a newline, the last line of the Python traceback, a newline,
//! and the whole traceback. Observations travel as `f64`, so `f32` and `f64` environments
//! both arrive exactly and are rounded to `f32` once, here, except those of a Box of kind
//! 3 (bytes, booleans: frames, MinAtar's planes), which travel as one `u8` each, an
//! eighth of the bytes; actions travel as the crate holds them (`f32`, or the index).
//!
//! Every reply is awaited at most [`BridgeOptions::timeout`] (default 60 s; `poll(2)`
//! on the pipe), so a hung environment is an error, not a hang. After the handshake the
//! Rust side allocates nothing per step: requests and replies go through two buffers
//! sized once.
//!
//! [`Env::reset`] and [`VecEnv::reset`] cannot return an error; a failure there fills the
//! observations with NaN and is returned by the next `step`.

use super::{Action, Actions, Env, EnvError, EpisodeStats, Space, Step, VecEnv, VecStep};
use crate::env::spaces::BoxSpace;
use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Python side, embedded so that the binary works from any directory.
pub const BRIDGE_SCRIPT: &str = include_str!("../../python/ppo_gym_bridge.py");

/// The protocol version both sides must speak.
pub const PROTOCOL_VERSION: u32 = 2;

const HELLO: u8 = 1;
const RESET: u8 = 2;
const STEP: u8 = 3;
const GET_STATE: u8 = 4;
const CLOSE: u8 = 5;
const RENDER: u8 = 6;
const MASKS: u8 = 7;
const LIVES: u8 = 8;
const MEANINGS: u8 = 9;
const ERROR: u8 = 0xFF;

/// Every id gymnasium has registered, as the interpreter of `options` sees them (for
/// `ppo envs --gym`).
pub fn gym_ids(options: &BridgeOptions) -> Result<Vec<String>, BridgeError> {
    let out = Command::new(&options.python)
        .arg("-c")
        .arg(BRIDGE_SCRIPT)
        .arg("--list")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BridgeError::NoPython { python: options.python.clone(), reason: e.to_string() })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
        return Err(BridgeError::GymnasiumMissing { python: options.python.clone(), message });
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(|l| format!("gym:{l}")).collect())
}

/// Whether `id` names a bridged environment (`gym:…` or `py:…`).
pub fn is_bridged(id: &str) -> bool {
    id.starts_with("gym:") || id.starts_with("py:")
}

/// How to start the Python side.
#[derive(Clone, Debug, PartialEq)]
pub struct BridgeOptions {
    /// The interpreter to run.
    pub python: String,
    /// The longest wait for any reply.
    pub timeout: Duration,
    /// Python processes a [`GymVecEnv`] spreads its environments over, for more cores
    /// (at most one per environment). Default 1.
    pub workers: usize,
    /// Make `gym:` environments with `render_mode="rgb_array"`, so that
    /// [`GymEnv::frame`] can read their pixels (`ppo render`). Default false.
    pub pixels: bool,
    /// Transpose three-dimensional observations from gymnasium's `(H, W, C)` to the
    /// `(C, H, W)` a CNN reads (`PPO_BRIDGE_CHANNELS_FIRST=1` in the process's
    /// environment; SB3's `VecTransposeImage`), and accept images of bytes. Default
    /// false; [`crate::algo::PpoConfig::bridge_options`] sets it when `cnn` is set.
    pub channels_first: bool,
    /// Wrap each environment in the Atari wrappers ([`crate::env::atari`]: SB3's
    /// `AtariWrapper`, then a stack of 4 frames), one Python process per environment
    /// (the wrappers step each game on its own). Default false;
    /// [`crate::algo::PpoConfig::bridge_options`] sets it from `atari_wrappers`.
    pub atari: bool,
}

impl Default for BridgeOptions {
    /// `$PPO_PYTHON` or `python3`, and 60 s.
    fn default() -> Self {
        let python = std::env::var("PPO_PYTHON").ok().filter(|p| !p.trim().is_empty());
        BridgeOptions {
            python: python.unwrap_or_else(|| "python3".to_string()),
            timeout: Duration::from_secs(60),
            workers: 1,
            pixels: false,
            channels_first: false,
            atari: false,
        }
    }
}

/// Why the bridge failed. Each message says what happened and, where Python raised, the
/// last line of its traceback.
#[derive(Clone, Debug, PartialEq)]
pub enum BridgeError {
    /// The interpreter could not be started.
    NoPython {
        /// The interpreter tried.
        python: String,
        /// The operating system's reason.
        reason: String,
    },
    /// gymnasium (or numpy) is not installed for that interpreter.
    GymnasiumMissing {
        /// The interpreter.
        python: String,
        /// The last line of the traceback.
        message: String,
    },
    /// gymnasium does not know the id, or the `py:` function does not exist.
    UnknownEnv {
        /// The id.
        id: String,
        /// The last line of the traceback.
        message: String,
    },
    /// Making the environment raised.
    MakeFailed {
        /// The id.
        id: String,
        /// The last line of the traceback.
        message: String,
    },
    /// A space other than Box, Discrete and MultiDiscrete.
    UnsupportedSpace {
        /// The id.
        id: String,
        /// Python's description of the space.
        message: String,
    },
    /// The environment raised during reset or step.
    EnvRaised {
        /// The id.
        id: String,
        /// The last line of the traceback.
        message: String,
    },
    /// The Python process ended.
    Died {
        /// The id.
        id: String,
        /// How it ended (exit code or signal).
        status: String,
        /// The last line it wrote to stderr.
        stderr: String,
    },
    /// No reply within the timeout.
    Timeout {
        /// The id.
        id: String,
        /// What was awaited.
        request: &'static str,
        /// The timeout.
        seconds: f64,
    },
    /// A stop was asked for (Ctrl-C, SIGTERM: [`crate::stop`]) while the environment
    /// had not answered for a second: its Python process was ended.
    Interrupted {
        /// The id.
        id: String,
        /// What was awaited.
        request: &'static str,
    },
    /// A reply that does not follow the protocol (a different script version, say).
    Protocol {
        /// The id.
        id: String,
        /// What was wrong.
        message: String,
    },
    /// An observation value is NaN.
    NanObservation {
        /// The id.
        id: String,
        /// The environment.
        env: usize,
        /// The component.
        index: usize,
    },
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::NoPython { python, reason } => write!(
                f,
                "cannot start Python '{python}' for a gym: environment ({reason}); install Python 3 with gymnasium, \
                 or set PPO_PYTHON (or the config key python) to an interpreter that has it"
            ),
            BridgeError::GymnasiumMissing { python, message } => write!(
                f,
                "{python} cannot import gymnasium ({message}); install it with `{python} -m pip install gymnasium`, \
                 or point PPO_PYTHON at a Python that has it"
            ),
            BridgeError::UnknownEnv { id, message } => {
                write!(f, "unknown environment {id} ({message}); `ppo envs --gym` lists what gymnasium has")
            }
            BridgeError::MakeFailed { id, message } => write!(f, "making {id} failed: {message}"),
            BridgeError::UnsupportedSpace { id, message } => write!(f, "{id}: {message}"),
            BridgeError::EnvRaised { id, message } => write!(f, "{id} raised: {message}"),
            BridgeError::Died { id, status, stderr } => {
                write!(f, "the Python process of {id} ended ({status})")?;
                if !stderr.is_empty() {
                    write!(f, "; its last words: {stderr}")?;
                }
                Ok(())
            }
            BridgeError::Timeout { id, request, seconds } => write!(
                f,
                "{id} did not answer {request} within {seconds} s (config key bridge_timeout); the Python process was stopped"
            ),
            BridgeError::Interrupted { id, request } => write!(
                f,
                "stopped while waiting for {id} to answer {request}: it did not answer within a second of the \
                 stop, so its Python process was ended"
            ),
            BridgeError::Protocol { id, message } => write!(f, "bridge protocol error with {id}: {message}"),
            BridgeError::NanObservation { id, env, index } => {
                write!(f, "{id} returned NaN in observation component {index} of environment {env}")
            }
        }
    }
}

impl std::error::Error for BridgeError {}

impl From<BridgeError> for EnvError {
    fn from(e: BridgeError) -> Self {
        EnvError::Bridge(e)
    }
}

/// Waits until `fd` can be read, at most `timeout`: `Ok(true)` when it can.
#[cfg(unix)]
fn wait_readable(fd: i32, timeout: Duration) -> std::io::Result<bool> {
    #[repr(C)]
    struct PollFd {
        fd: i32,
        events: i16,
        revents: i16,
    }
    /// `nfds_t`: `unsigned long` in glibc and musl, `unsigned int` on the BSDs and macOS.
    #[cfg(target_os = "linux")]
    type Nfds = std::ffi::c_ulong;
    #[cfg(not(target_os = "linux"))]
    type Nfds = std::ffi::c_uint;
    extern "C" {
        /// `int poll(struct pollfd *fds, nfds_t nfds, int timeout)` from the C library.
        fn poll(fds: *mut PollFd, nfds: Nfds, timeout: std::ffi::c_int) -> std::ffi::c_int;
    }
    const POLLIN: i16 = 1;
    let mut entry = PollFd { fd, events: POLLIN, revents: 0 };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: `entry` is a valid, exclusively borrowed `struct pollfd` (same layout:
    // int, short, short) for the duration of the call, and nfds is 1.
    #[allow(unsafe_code)]
    let ready = unsafe { poll(&mut entry, 1, ms) };
    match ready {
        r if r < 0 => Err(std::io::Error::last_os_error()),
        0 => Ok(false),
        _ => Ok(true),
    }
}

/// One Python process and its pipes.
struct Process {
    id: String,
    python: String,
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    timeout: Duration,
    /// The last lines of stderr, collected by a thread.
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// The request being written and the reply being read, reused.
    request: Vec<u8>,
    reply: Vec<u8>,
    closed: bool,
}

/// A little-endian reader over a reply.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn f64s_into(&mut self, out: &mut [f32]) -> Option<()> {
        let bytes = self.take(out.len().checked_mul(8)?)?;
        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
            *o = f64::from_le_bytes(b.try_into().ok()?) as f32;
        }
        Some(())
    }
    /// `out.len()` observation values: `u8`s when `bytes`, else `f64`s.
    fn obs_into(&mut self, out: &mut [f32], bytes: bool) -> Option<()> {
        if !bytes {
            return self.f64s_into(out);
        }
        let values = self.take(out.len())?;
        for (o, &b) in out.iter_mut().zip(values) {
            *o = b as f32;
        }
        Some(())
    }
    /// A space, and whether it is a Box whose values travel as bytes (kind 3).
    fn space(&mut self) -> Option<(Space, bool)> {
        let kind = self.u8()?;
        let space = match kind {
            0 => {
                let n = usize::try_from(self.i64()?).ok()?;
                let _start = self.i64()?;
                Some(Space::Discrete(n))
            }
            1 | 3 => {
                let rank = self.u32()? as usize;
                let shape = (0..rank).map(|_| self.u32().map(|d| d as usize)).collect::<Option<Vec<_>>>()?;
                let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
                let mut low = vec![0.0; n.min(self.bytes.len())];
                let mut high = vec![0.0; low.len()];
                if low.len() != n {
                    return None;
                }
                self.f64s_into(&mut low)?;
                self.f64s_into(&mut high)?;
                Some(Space::Box(BoxSpace::new(low, high, shape)))
            }
            2 => {
                let d = self.u32()? as usize;
                if d == 0 || d.checked_mul(16)? > self.bytes.len() {
                    return None;
                }
                let nvec =
                    (0..d).map(|_| usize::try_from(self.i64()?).ok().filter(|&n| n > 0)).collect::<Option<Vec<_>>>()?;
                let _starts = (0..d).map(|_| self.i64()).collect::<Option<Vec<_>>>()?;
                Some(Space::MultiDiscrete(nvec))
            }
            _ => None,
        }?;
        Some((space, kind == 3))
    }
}

impl Process {
    /// Starts the script for `id` with `n` environments and reads the hello reply.
    fn start(id: &str, n: usize, autoreset: bool, options: &BridgeOptions) -> Result<(Process, Hello), BridgeError> {
        let mut command = Command::new(&options.python);
        command
            .arg("-c")
            .arg(BRIDGE_SCRIPT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("PYTHONUNBUFFERED", "1");
        #[cfg(unix)]
        {
            // Its own process group: Ctrl-C in the terminal reaches ppo, which closes it.
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        // Started from the main thread, Python asks Linux to end it when ppo ends
        // (PR_SET_PDEATHSIG, which fires when the starting *thread* ends, so it is only
        // asked for from the thread that lives as long as the process).
        if std::thread::current().name() == Some("main") {
            command.env("PPO_BRIDGE_END_WITH_PARENT", "1");
        }
        if options.channels_first {
            command.env("PPO_BRIDGE_CHANNELS_FIRST", "1");
        }
        if options.atari {
            command.env("PPO_BRIDGE_ATARI", "1");
        }
        if options.pixels {
            command.env("PPO_BRIDGE_RENDER", "1");
        }
        let mut child = command
            .spawn()
            .map_err(|e| BridgeError::NoPython { python: options.python.clone(), reason: e.to_string() })?;
        let (stdin, stdout, stderr) = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(i), Some(o), Some(e)) => (i, o, e),
            _ => unreachable!("all three pipes were requested"),
        };
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr_tail);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                if t.len() == 20 {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        let mut process = Process {
            id: id.to_string(),
            python: options.python.clone(),
            child,
            stdin,
            stdout,
            timeout: options.timeout,
            stderr_tail,
            request: Vec::new(),
            reply: Vec::new(),
            closed: false,
        };
        process.begin(HELLO);
        process.put(&PROTOCOL_VERSION.to_le_bytes());
        process.put(&(n as u32).to_le_bytes());
        process.put(&[autoreset as u8]);
        process.put(&(id.len() as u32).to_le_bytes());
        process.put(id.as_bytes());
        process.exchange(HELLO, "the handshake")?;
        let hello = process.parse_hello()?;
        Ok((process, hello))
    }

    fn begin(&mut self, op: u8) {
        self.request.clear();
        self.request.extend_from_slice(&[0, 0, 0, 0, op]);
    }

    fn put(&mut self, bytes: &[u8]) {
        self.request.extend_from_slice(bytes);
    }

    fn protocol(&self, message: impl Into<String>) -> BridgeError {
        BridgeError::Protocol { id: self.id.clone(), message: message.into() }
    }

    /// Sends the request and reads its reply into `self.reply` (without the length and
    /// the operation byte, which must be `0x80 | op`).
    fn exchange(&mut self, op: u8, what: &'static str) -> Result<(), BridgeError> {
        self.send()?;
        self.receive(op, what)
    }

    /// Sends the request built with [`begin`](Self::begin) and [`put`](Self::put).
    fn send(&mut self) -> Result<(), BridgeError> {
        if self.closed {
            return Err(self.died());
        }
        let len = (self.request.len() - 4) as u32;
        self.request[..4].copy_from_slice(&len.to_le_bytes());
        if self.stdin.write_all(&self.request).and_then(|_| self.stdin.flush()).is_err() {
            return Err(self.died());
        }
        Ok(())
    }

    /// Reads the reply to request `op` into `self.reply`, without its operation byte.
    fn receive(&mut self, op: u8, what: &'static str) -> Result<(), BridgeError> {
        let mut head = [0u8; 4];
        self.read_exact_timed(&mut head, what)?;
        let len = u32::from_le_bytes(head) as usize;
        if len == 0 || len > (1 << 30) {
            return Err(self.protocol(format!("a reply of {len} bytes")));
        }
        let mut reply = std::mem::take(&mut self.reply);
        reply.resize(len, 0);
        let read = self.read_exact_timed(&mut reply, what);
        self.reply = reply;
        read?;
        match self.reply[0] {
            r if r == 0x80 | op => {
                self.reply.remove(0);
                Ok(())
            }
            ERROR => Err(self.python_error()),
            other => Err(self.protocol(format!("reply {other:#x} to request {op}"))),
        }
    }

    /// Reads exactly `buf.len()` bytes, waiting at most the timeout for each piece. The
    /// wait goes in slices of 100 ms: once a stop is asked for ([`crate::stop`]), an
    /// environment that still has not answered a second later is ended
    /// ([`BridgeError::Interrupted`]), so that Ctrl-C does not wait out a hung one.
    fn read_exact_timed(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), BridgeError> {
        let deadline = Instant::now() + self.timeout;
        let mut stop_seen: Option<Instant> = None;
        let mut filled = 0;
        while filled < buf.len() {
            #[cfg(unix)]
            {
                use std::os::unix::io::AsRawFd;
                let now = Instant::now();
                let left = deadline.saturating_duration_since(now);
                let ready = wait_readable(self.stdout.as_raw_fd(), left.min(Duration::from_millis(100)));
                let stopping = !matches!(ready, Ok(true)) && crate::stop::requested().is_some();
                if stopping && stop_seen.get_or_insert(now).elapsed() >= Duration::from_secs(1) {
                    self.kill();
                    return Err(BridgeError::Interrupted { id: self.id.clone(), request: what });
                }
                match ready {
                    Ok(true) => {}
                    Ok(false) if Instant::now() < deadline => continue,
                    Ok(false) => {
                        self.kill();
                        return Err(BridgeError::Timeout {
                            id: self.id.clone(),
                            request: what,
                            seconds: self.timeout.as_secs_f64(),
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return Err(self.died()),
                }
            }
            match self.stdout.read(&mut buf[filled..]) {
                Ok(0) | Err(_) => return Err(self.died()),
                Ok(k) => filled += k,
            }
        }
        Ok(())
    }

    /// The error reply in `self.reply`, typed by its kind.
    fn python_error(&self) -> BridgeError {
        let mut c = Cursor { bytes: &self.reply[1..], at: 0 };
        let text = c
            .u32()
            .and_then(|n| c.take(n as usize))
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let mut lines = text.lines();
        let kind = lines.next().unwrap_or("");
        let message = lines.next().unwrap_or("").to_string();
        let id = self.id.clone();
        match kind {
            "missing_gymnasium" => BridgeError::GymnasiumMissing { python: self.python.clone(), message },
            "unknown_env" => BridgeError::UnknownEnv { id, message },
            "make_failed" => BridgeError::MakeFailed { id, message },
            "unsupported_space" => BridgeError::UnsupportedSpace { id, message },
            "env_raised" => BridgeError::EnvRaised { id, message },
            _ => BridgeError::Protocol { id, message },
        }
    }

    /// The process has ended (or its pipes broke): how, and its last stderr line.
    fn died(&mut self) -> BridgeError {
        self.closed = true;
        let deadline = Instant::now() + Duration::from_secs(2);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break s.to_string(),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    self.kill();
                    break "killed after its pipe closed".to_string();
                }
            }
        };
        // Give the stderr thread a moment to collect the last words.
        std::thread::sleep(Duration::from_millis(50));
        let tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        let stderr = tail.iter().rev().find(|l| !l.trim().is_empty()).cloned().unwrap_or_default();
        BridgeError::Died { id: self.id.clone(), status, stderr }
    }

    /// Kills the child's whole process group (anything the environment started too).
    fn kill(&mut self) {
        self.closed = true;
        #[cfg(unix)]
        let _ =
            Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn parse_hello(&mut self) -> Result<Hello, BridgeError> {
        let mut c = Cursor { bytes: &self.reply, at: 0 };
        // The version first: a script of another version may lay out the rest differently.
        match c.u32() {
            Some(PROTOCOL_VERSION) => {}
            Some(version) => {
                return Err(self.protocol(format!("the script speaks version {version}, ppo {PROTOCOL_VERSION}")))
            }
            None => return Err(self.protocol("an empty hello reply")),
        }
        let parsed = (|| Some((c.i64()?, c.f64()?, c.space()?, c.space()?)))();
        let (max_steps, threshold, (observation_space, observation_bytes), (action_space, action_bytes)) =
            parsed.ok_or_else(|| self.protocol("a hello reply that does not parse"))?;
        if action_bytes {
            return Err(self.protocol("an action space of kind 3 (only observations travel as bytes)"));
        }
        if !matches!(observation_space, Space::Box(_)) {
            return Err(BridgeError::UnsupportedSpace {
                id: self.id.clone(),
                message: format!("observation space {observation_space:?}: the agent needs a flat Box"),
            });
        }
        Ok(Hello {
            max_episode_steps: usize::try_from(max_steps).ok(),
            reward_threshold: Some(threshold).filter(|t| !t.is_nan()),
            observation_space,
            observation_bytes,
            action_space,
        })
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if !self.closed {
            // Ask it to close its environments (waiting at most a second), then end its
            // whole process group: Python, and whatever the environments started
            // themselves (a simulator, a server), which would otherwise outlive it.
            self.timeout = Duration::from_secs(1);
            self.begin(CLOSE);
            let _ = self.exchange(CLOSE, "close");
            self.kill();
        }
    }
}

/// What the Python side reports about the environment at the handshake.
#[derive(Clone, Debug, PartialEq)]
pub struct Hello {
    /// The time limit, if gymnasium registers one.
    pub max_episode_steps: Option<usize>,
    /// gymnasium's reward threshold, if any.
    pub reward_threshold: Option<f64>,
    /// The space of one observation.
    pub observation_space: Space,
    /// Observations travel as one byte per value (a Box of bytes or booleans), else as
    /// `f64`s.
    pub observation_bytes: bool,
    /// The space of one action.
    pub action_space: Space,
}

/// One Python process of a [`GymVecEnv`] and the environments it runs.
struct Worker {
    process: Process,
    /// Its first environment's index in the vector.
    start: usize,
    /// How many it runs.
    count: usize,
}

/// N gymnasium environments in one Python process (or spread over
/// [`BridgeOptions::workers`] processes), as a [`VecEnv`]. See the module docs.
pub struct GymVecEnv {
    workers: Vec<Worker>,
    hello: Hello,
    n: usize,
    obs_dim: usize,
    /// Each environment's running episode return and length.
    episodes: EpisodeStats,
    /// An error of `reset`, returned by the next `step`.
    pending: Option<BridgeError>,
    /// False once Python said the environments have no `action_masks()`, so that the
    /// question is asked once, not every step.
    may_have_masks: bool,
}

impl GymVecEnv {
    /// Starts `n` environments of `id` (`gym:…` or `py:…`), in `options.workers`
    /// processes (at most one per environment).
    pub fn new(id: &str, n: usize, options: &BridgeOptions) -> Result<GymVecEnv, BridgeError> {
        if n == 0 {
            return Err(BridgeError::Protocol { id: id.to_string(), message: "a vector of 0 environments".into() });
        }
        GymVecEnv::start(id, n, true, options)
    }

    /// Starts the processes, with or without automatic resets: `n` environments split
    /// as evenly as possible, the first workers taking one more.
    fn start(id: &str, n: usize, autoreset: bool, options: &BridgeOptions) -> Result<GymVecEnv, BridgeError> {
        let k = options.workers.clamp(1, n);
        let mut workers = Vec::with_capacity(k);
        let mut hello = None;
        for w in 0..k {
            let count = n / k + usize::from(w < n % k);
            let start = workers.iter().map(|w: &Worker| w.count).sum();
            let (process, h) = Process::start(id, count, autoreset, options)?;
            hello.get_or_insert(h);
            workers.push(Worker { process, start, count });
        }
        let hello = hello.expect("at least one worker");
        let obs_dim = hello.observation_space.flat_dim();
        let may_have_masks = hello.action_space.mask_len() > 0;
        Ok(GymVecEnv { workers, hello, n, obs_dim, episodes: EpisodeStats::new(n), pending: None, may_have_masks })
    }

    /// What the handshake reported.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The Python processes' ids.
    pub fn process_ids(&self) -> Vec<u32> {
        self.workers.iter().map(|w| w.process.child.id()).collect()
    }

    /// gymnasium's `env.unwrapped.state` of environment `i`, for environments that have
    /// one (the classic-control suite), to compare the crate's own with.
    pub fn unwrapped_state(&mut self, i: usize) -> Result<Vec<f64>, BridgeError> {
        let w = self.workers.iter_mut().find(|w| (w.start..w.start + w.count).contains(&i));
        let Some(Worker { process: p, start, .. }) = w else {
            return Err(BridgeError::Protocol { id: self.id().to_string(), message: format!("no environment {i}") });
        };
        p.begin(GET_STATE);
        p.put(&((i - *start) as u32).to_le_bytes());
        p.exchange(GET_STATE, "state")?;
        let mut c = Cursor { bytes: &p.reply, at: 0 };
        let k = c.u32().ok_or_else(|| p.protocol("a state reply without its length"))? as usize;
        (0..k).map(|_| c.f64()).collect::<Option<Vec<_>>>().ok_or_else(|| p.protocol("a short state reply"))
    }

    /// Each worker's environments' `action_masks()` into `masks` (N×L), or false when
    /// they have none (asked once).
    fn masks_checked(&mut self, masks: &mut [bool]) -> Result<bool, BridgeError> {
        if !self.may_have_masks {
            return Ok(false);
        }
        let l = self.hello.action_space.mask_len();
        for w in &mut self.workers {
            w.process.begin(MASKS);
            w.process.send()?;
        }
        let mut all = true;
        for w in &mut self.workers {
            let p = &mut w.process;
            p.receive(MASKS, "action masks")?;
            let rows = &mut masks[w.start * l..(w.start + w.count) * l];
            match p.reply.split_first() {
                Some((0, _)) => all = false,
                Some((1, bytes)) if bytes.len() == rows.len() => {
                    rows.iter_mut().zip(bytes).for_each(|(m, &b)| *m = b != 0)
                }
                _ => {
                    return Err(p.protocol(format!(
                        "a masks reply of {} bytes for {} values",
                        p.reply.len(),
                        rows.len()
                    )))
                }
            }
        }
        self.may_have_masks = all;
        Ok(all)
    }

    /// The environment id (borrowed: the step path allocates nothing).
    fn id(&self) -> &str {
        &self.workers[0].process.id
    }

    fn reset_checked(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), BridgeError> {
        // Every worker is asked first, so that they reset at the same time.
        for w in &mut self.workers {
            w.process.begin(RESET);
            w.process.put(&[seed.is_some() as u8]);
            w.process.put(&seed.unwrap_or(0).wrapping_add(w.start as u64).to_le_bytes());
            w.process.send()?;
        }
        let o = self.obs_dim;
        for w in &mut self.workers {
            let p = &mut w.process;
            p.receive(RESET, "reset")?;
            let rows = &mut obs[w.start * o..(w.start + w.count) * o];
            let bytes = self.hello.observation_bytes;
            Cursor { bytes: &p.reply, at: 0 }.obs_into(rows, bytes).ok_or_else(|| p.protocol("a short reset reply"))?;
        }
        check_nan(self.id(), obs, o)
    }
}

/// A NaN observation is an error naming the environment and component.
fn check_nan(id: &str, obs: &[f32], obs_dim: usize) -> Result<(), BridgeError> {
    match obs.iter().position(|x| x.is_nan()) {
        Some(k) => Err(BridgeError::NanObservation { id: id.to_string(), env: k / obs_dim, index: k % obs_dim }),
        None => Ok(()),
    }
}

/// Sends each worker the step request for its environments' `actions` (already checked).
fn send_actions(workers: &mut [Worker], actions: Actions<'_>, act_dim: usize) -> Result<(), BridgeError> {
    for w in workers {
        let p = &mut w.process;
        p.begin(STEP);
        match actions {
            Actions::Discrete(a) => {
                a[w.start..w.start + w.count].iter().for_each(|&x| p.put(&(x as i64).to_le_bytes()))
            }
            Actions::Continuous(v) => {
                v[w.start * act_dim..(w.start + w.count) * act_dim].iter().for_each(|&x| p.put(&x.to_le_bytes()))
            }
            Actions::MultiDiscrete(a) => a[w.start * act_dim..(w.start + w.count) * act_dim]
                .iter()
                .for_each(|&x| p.put(&(x as i64).to_le_bytes())),
        }
        p.send()?;
    }
    Ok(())
}

impl VecEnv for GymVecEnv {
    fn num_envs(&self) -> usize {
        self.n
    }

    fn observation_space(&self) -> &Space {
        &self.hello.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.hello.action_space
    }

    /// A failed reset is returned, and also kept for the next `step` (so that a caller
    /// of the single-environment [`GymEnv`], whose `reset` returns nothing, hears of it);
    /// the observations are NaN meanwhile.
    fn action_masks(&mut self, masks: &mut [bool]) -> Result<bool, EnvError> {
        self.masks_checked(masks).map_err(EnvError::from)
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.episodes.clear();
        self.reset_checked(seed, obs).map_err(|e| {
            obs.fill(f32::NAN);
            self.pending = Some(e.clone());
            e.into()
        })
    }

    fn step(&mut self, actions: Actions<'_>, out: &mut VecStep) -> Result<(), EnvError> {
        let (n, o) = (self.n, self.obs_dim);
        out.check_shape(n, o);
        if let Some(e) = self.pending.take() {
            return Err(e.into());
        }
        self.hello.action_space.check_batch(actions, n)?;
        // All workers step at once; their replies are read in order.
        send_actions(&mut self.workers, actions, self.hello.action_space.flat_dim())?;
        out.episodes.clear();
        let bytes = self.hello.observation_bytes;
        // Bytes per observation value in a reply.
        let width = if bytes { 1 } else { 8 };
        for w in &mut self.workers {
            let p = &mut w.process;
            p.receive(STEP, "step")?;
            let (s, k) = (w.start, w.count);
            let mut c = Cursor { bytes: &p.reply, at: 0 };
            let parsed = (|| {
                c.obs_into(&mut out.obs[s * o..(s + k) * o], bytes)?;
                for r in out.rewards[s..s + k].iter_mut() {
                    *r = c.f64()? as f32;
                }
                let flags = c.take(2 * k)?;
                for j in 0..k {
                    out.terminated[s + j] = flags[j] != 0;
                    out.truncated[s + j] = flags[k + j] != 0;
                }
                c.obs_into(&mut out.final_obs[s * o..(s + k) * o], bytes)
            })();
            parsed.ok_or_else(|| p.protocol("a short step reply"))?;
            for j in 0..k {
                let i = s + j;
                // The reward as gymnasium gave it, summed in f64 as RecordEpisodeStatistics does.
                let reward = f64::from_le_bytes(p.reply[k * o * width + j * 8..][..8].try_into().expect("8 bytes"));
                self.episodes.add(i, reward);
                if out.done(i) {
                    out.episodes.push(self.episodes.finish(i));
                    check_nan(&p.id, &out.final_obs[i * o..(i + 1) * o], o).map_err(|e| match e {
                        BridgeError::NanObservation { id, index, .. } => {
                            BridgeError::NanObservation { id, env: i, index }
                        }
                        other => other,
                    })?;
                }
            }
        }
        check_nan(self.id(), &out.obs, o)?;
        Ok(())
    }
}

/// One gymnasium environment in a Python process, as an [`Env`]: no automatic reset.
pub struct GymEnv {
    inner: GymVecEnv,
    /// Reused buffers of the one-environment step.
    step: VecStep,
}

impl GymEnv {
    /// Starts one environment of `id` (`gym:…` or `py:…`).
    pub fn new(id: &str, options: &BridgeOptions) -> Result<GymEnv, BridgeError> {
        let inner = GymVecEnv::start(id, 1, false, options)?;
        let step = VecStep::new(1, inner.obs_dim);
        Ok(GymEnv { inner, step })
    }

    /// What the handshake reported.
    pub fn hello(&self) -> &Hello {
        &self.inner.hello
    }

    /// gymnasium's `env.unwrapped.state` ([`GymVecEnv::unwrapped_state`]).
    pub fn unwrapped_state(&mut self) -> Result<Vec<f64>, BridgeError> {
        self.inner.unwrapped_state(0)
    }

    /// The environment's picture now (`env.render()` of an environment made with
    /// [`BridgeOptions::pixels`]): width, height, frames per second, and the pixels as
    /// RGB bytes, rows top to bottom.
    pub fn frame(&mut self) -> Result<Frame, BridgeError> {
        let p = &mut self.inner.workers[0].process;
        p.begin(RENDER);
        p.put(&0u32.to_le_bytes());
        p.exchange(RENDER, "a frame")?;
        let mut c = Cursor { bytes: &p.reply, at: 0 };
        let (Some(height), Some(width), Some(fps)) = (c.u32(), c.u32(), c.f64()) else {
            return Err(p.protocol("a frame reply without its size"));
        };
        let (width, height) = (width as usize, height as usize);
        let rgb = c.take(width * height * 3).ok_or_else(|| p.protocol("a short frame"))?.to_vec();
        Ok(Frame { width, height, fps, rgb })
    }
}

impl GymEnv {
    /// Request `op` about environment 0, answered by its reply (`None` when the bridge
    /// fails: the next step reports why).
    fn ask(&mut self, op: u8, what: &'static str) -> Option<&[u8]> {
        let p = &mut self.inner.workers[0].process;
        p.begin(op);
        p.put(&0u32.to_le_bytes());
        p.exchange(op, what).ok()?;
        Some(&p.reply)
    }

    /// An Atari game's lives (ALE's `lives()`), `None` for another environment.
    fn ale_lives(&mut self) -> Option<u32> {
        let reply = self.ask(LIVES, "lives")?;
        u32::try_from(Cursor { bytes: reply, at: 0 }.i64()?).ok()
    }

    /// The actions' names (ALE's `get_action_meanings()`), `None` without them.
    fn meanings(&mut self) -> Option<Vec<String>> {
        let reply = self.ask(MEANINGS, "action meanings")?;
        let mut c = Cursor { bytes: reply, at: 0 };
        let k = c.u32()? as usize;
        let names = (0..k.min(reply.len()))
            .map(|_| {
                let len = c.u32()? as usize;
                String::from_utf8(c.take(len)?.to_vec()).ok()
            })
            .collect::<Option<Vec<_>>>()?;
        (names.len() == k && k > 0).then_some(names)
    }
}

/// One picture of a bridged environment ([`GymEnv::frame`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Pixels across.
    pub width: usize,
    /// Pixels down.
    pub height: usize,
    /// The environment's `metadata["render_fps"]` (30 when it has none).
    pub fps: f64,
    /// `width × height × 3` bytes of RGB, rows top to bottom.
    pub rgb: Vec<u8>,
}

impl Env for GymEnv {
    fn observation_space(&self) -> Space {
        self.inner.hello.observation_space.clone()
    }

    fn lives(&mut self) -> Option<u32> {
        self.ale_lives()
    }

    fn action_meanings(&mut self) -> Option<Vec<String>> {
        self.meanings()
    }

    /// The environment's `action_masks()`, if it has one (an error reaching Python is
    /// returned by the next `step`).
    fn action_mask(&mut self, mask: &mut [bool]) -> bool {
        self.inner.masks_checked(mask).unwrap_or(false)
    }

    fn action_space(&self) -> Space {
        self.inner.hello.action_space.clone()
    }

    /// A failed reset leaves NaN observations; the next `step` returns the error.
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        let _ = VecEnv::reset(&mut self.inner, seed, obs);
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let discrete;
        let actions = match action {
            Action::Discrete(a) => {
                discrete = [a];
                Actions::Discrete(&discrete)
            }
            Action::Continuous(v) => Actions::Continuous(v),
            Action::MultiDiscrete(a) => Actions::MultiDiscrete(a),
        };
        self.inner.step(actions, &mut self.step)?;
        obs.copy_from_slice(&self.step.obs);
        let width = if self.inner.hello.observation_bytes { 1 } else { 8 };
        let reward = f64::from_le_bytes(
            self.inner.workers[0].process.reply[self.inner.obs_dim * width..][..8].try_into().expect("8 bytes"),
        );
        Ok(Step { reward, terminated: self.step.terminated[0], truncated: self.step.truncated[0] })
    }
}
