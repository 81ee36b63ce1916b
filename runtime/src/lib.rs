//! nmlc runtime.
