//! The PPO algorithm (to be written).
