//! The nmlc compiler: from NML source text to checked models, IR and code.
//!
//! Data flows one way through the phases, one module each:
//!
//! 1. [`syntax`]: text → [`syntax::ast`] (pest grammar, spans on every node);
//! 2. [`loader`]: resolves `import`s (files and the embedded [`stdlib`]);
//! 3. [`check`]: names, units and structure → [`model`], the checked model
//!    that every later phase consumes.
//!
//! [`units`] holds the dimension algebra and the internal scale; every
//! problem found on the way is a [`diagnostics::Diagnostic`].

pub mod diagnostics;
pub mod names;
pub mod source;
pub mod syntax;
pub mod units;
