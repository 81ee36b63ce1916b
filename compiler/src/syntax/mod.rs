//! The concrete syntax of NML: the pest grammar (`nml.pest`), the AST and
//! the parser that builds one from the other.

pub mod ast;
mod parser;
pub mod print;

pub use parser::{MAX_EXPR_DEPTH, MAX_NESTING, parse_file};
