//! Reverse-mode automatic differentiation (to be written).
