//! Environments (to be written).
