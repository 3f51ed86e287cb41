//! File formats (to be written).
