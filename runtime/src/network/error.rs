//! Why a network cannot be built or run.

use nmlc_compiler::diagnostics::Diagnostic;
use nmlc_compiler::source::Span;

use super::compile::CompiledNetwork;
use super::fault::NonFinite;
use super::simulation::Progress;
use super::values::ValueError;
use crate::output::OutputError;

/// A failure of `nmlc run`, classified by who has to act on it.
#[derive(Debug)]
pub enum RunError {
    /// The file has no network, or several and none was chosen; or the
    /// chosen one does not exist. A usage problem.
    NoNetwork {
        /// The name asked for, if any.
        requested: Option<String>,
        /// The networks there are.
        available: Vec<String>,
    },
    /// A setting given on the command line is unusable (a usage problem).
    BadSetting {
        /// Which setting (`--dt`, `every`).
        setting: String,
        /// Why.
        problem: String,
    },
    /// The network uses a feature this version cannot run yet.
    Unsupported {
        /// Where.
        span: Span,
        /// What (`projections`).
        feature: &'static str,
    },
    /// A value of the network is unusable (a model error, with a span).
    Model(Box<Diagnostic>),
    /// A backend failed to compile a kernel (a bug or an unsupported host).
    Backend {
        /// Which backend.
        backend: &'static str,
        /// The population.
        population: String,
        /// What the backend said.
        message: String,
    },
    /// A state variable became NaN or infinite (see [`NonFinite`]).
    NonFinite(Box<NonFinite>),
    /// Writing the results failed.
    Output(OutputError),
}

impl RunError {
    /// A model error.
    pub fn model(d: Diagnostic) -> RunError {
        RunError::Model(Box::new(d))
    }

    /// The error as a diagnostic to render with the source, for errors that
    /// point into the model.
    pub fn diagnostic(&self) -> Option<Diagnostic> {
        match self {
            RunError::Model(d) => Some((**d).clone()),
            RunError::Unsupported { span, feature } => Some(
                Diagnostic::error(
                    "nml::unsupported",
                    format!("{feature} are not supported by this version of nmlc yet"),
                )
                .at(*span, "not supported yet")
                .help("`nmlc check` accepts this network; running it needs a later version"),
            ),
            RunError::NonFinite(fault) => Some(fault.diagnostic()),
            _ => None,
        }
    }

    /// Whether the user has to fix the model (exit code 1) rather than the
    /// command line (2) or nmlc (3).
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::NoNetwork { .. } | RunError::BadSetting { .. } => 2,
            RunError::Output(OutputError::NotEmpty { .. }) => 2,
            RunError::Backend { .. } => 3,
            _ => 1,
        }
    }

    /// For a NaN or infinite state, finds its last finite value (see
    /// [`NonFinite::look_back`]); other errors are left as they are.
    /// `compiled` is the network that ran; `simulate_s` the wall-clock
    /// time the run took; `go_on` may give the search up.
    pub fn look_back(
        &mut self,
        compiled: &CompiledNetwork,
        simulate_s: f64,
        go_on: &mut dyn FnMut(&Progress) -> bool,
    ) {
        if let RunError::NonFinite(fault) = self {
            fault.look_back(compiled, simulate_s, go_on);
        }
    }

    pub(crate) fn from_value(e: ValueError, what: &str) -> RunError {
        RunError::model(match e {
            ValueError::NotFixed { span } => Diagnostic::error(
                "nml::not_constant",
                format!("{what} must be fixed when the network is built"),
            )
            .at(span, "this is not known before the run"),
            ValueError::BadDistribution {
                span,
                name,
                problem,
            } => Diagnostic::error(
                "nml::invalid_value",
                format!("invalid `{name}` distribution for {what}: {problem}"),
            )
            .at(span, problem),
        })
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NoNetwork {
                requested: Some(name),
                available,
            } => {
                write!(f, "no network named `{name}`")?;
                if !available.is_empty() {
                    write!(f, "; the file defines {}", list(available))?;
                }
                Ok(())
            }
            RunError::NoNetwork {
                requested: None,
                available,
            } if available.is_empty() => f.write_str("the file defines no network to run"),
            RunError::NoNetwork {
                requested: None,
                available,
            } => {
                write!(
                    f,
                    "the file defines several networks ({}); choose one with `--network NAME`",
                    list(available)
                )
            }
            RunError::BadSetting { setting, problem } => write!(f, "{setting}: {problem}"),
            RunError::Unsupported { feature, .. } => {
                write!(f, "{feature} are not supported by this version of nmlc yet")
            }
            RunError::Model(d) => f.write_str(&d.message),
            RunError::Backend {
                backend,
                population,
                message,
            } => {
                write!(
                    f,
                    "the {backend} backend cannot compile population `{population}`: {message}"
                )
            }
            RunError::NonFinite(fault) => write!(f, "{fault}"),
            RunError::Output(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<OutputError> for RunError {
    fn from(e: OutputError) -> RunError {
        RunError::Output(e)
    }
}

/// `a`, `b`, `c`: names in backticks, for messages that list choices.
pub(crate) fn list(names: &[impl AsRef<str>]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}
