//! Checkpoints: an agent, its config and normalisation statistics in one safetensors file.
//!
//! (Being written: the API below is the contract the CLI builds on.)

use super::agent::Agent;
use super::config::PpoConfig;
use crate::env::RunningMeanStd;
use std::fmt;
use std::path::Path;

/// Everything needed to rebuild and run a trained agent.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The networks (and log-std).
    pub agent: Agent,
    /// The config it was trained with (env id, network sizes, …).
    pub config: PpoConfig,
    /// Observation normalisation statistics, if training normalised observations.
    pub obs_rms: Option<RunningMeanStd>,
    /// Return statistics of reward scaling, if used.
    pub return_rms: Option<RunningMeanStd>,
    /// Environment steps trained when saved.
    pub global_step: u64,
}

/// Why a checkpoint could not be written or read.
#[derive(Debug)]
pub enum CheckpointError {
    /// Not yet implemented.
    Unimplemented,
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "checkpoints are not implemented yet")
    }
}

impl std::error::Error for CheckpointError {}

/// Writes `ckpt` to `path` atomically.
pub fn save(_path: impl AsRef<Path>, _ckpt: &Checkpoint) -> Result<(), CheckpointError> {
    Err(CheckpointError::Unimplemented)
}

/// Reads a checkpoint written by [`save`].
pub fn load(_path: impl AsRef<Path>) -> Result<Checkpoint, CheckpointError> {
    Err(CheckpointError::Unimplemented)
}
