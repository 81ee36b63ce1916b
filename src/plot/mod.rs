//! `nmlc plot`: one figure of what a run recorded, for a first look without
//! Python.
//!
//! The figure reads a result folder as `nmlc run` leaves it (CSV tables or
//! `results.npz`, and `summary.json`), finished or stopped early, and stacks:
//!
//! 1. a spike raster: time in ms against neuron, populations stacked in name
//!    order, each in its own colour and named in the legend. At most
//!    [`figure::MAX_RASTER_ROWS`] neurons and [`figure::MAX_RASTER_POINTS`]
//!    spikes are drawn: every k-th neuron of every population is kept (the same
//!    k for all, so proportions stay true) and the caption says how many;
//! 2. the population rate in Hz per neuron, counted from every recorded spike in
//!    bins (b·w, (b+1)·w] like `record rate`, the width chosen from the run's
//!    length;
//! 3. one panel per recorded variable, its unit on the y axis, a few evenly
//!    chosen neurons each. Long traces are reduced to the minimum and maximum per
//!    pixel column, so spikes in a membrane potential survive; values that are
//!    not finite (a run stopped by a NaN) break the line instead of bending the
//!    axis.
//!
//! Text is drawn with DejaVu Sans, compiled into the binary, so the images are
//! the same on every machine and need no system font library. Each image is
//! written atomically next to the results.

mod figure;
mod npz_reader;
mod panels;
mod results;
mod sampling;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nmlc_runtime::output::{OutputDir, OutputError};

/// The file stem of the figure when none is given.
pub const DEFAULT_STEM: &str = "plot";

/// DejaVu Sans 2.37 (Bitstream Vera license, see `assets/fonts/`).
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family name the embedded font is registered under, and that the SVG
/// files ask their viewer for.
const FONT_FAMILY: &str = "sans-serif";

/// Which image files to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageFormats {
    /// A 1200-pixel-wide PNG.
    pub png: bool,
    /// An SVG with the same content, text kept as text.
    pub svg: bool,
}

impl ImageFormats {
    /// A PNG and an SVG, what `nmlc run --plot` writes.
    pub const BOTH: ImageFormats = ImageFormats {
        png: true,
        svg: true,
    };
}

/// Why a figure could not be made.
#[derive(Debug)]
pub enum PlotError {
    /// The result folder does not exist.
    MissingFolder {
        /// The folder asked for.
        path: PathBuf,
    },
    /// The path exists but is not a folder.
    NotAFolder {
        /// The path.
        path: PathBuf,
    },
    /// The folder holds none of the files `nmlc run` writes.
    NoResults {
        /// The folder.
        path: PathBuf,
    },
    /// `-o` names no file.
    BadStem {
        /// The stem given.
        stem: PathBuf,
    },
    /// A result file exists but cannot be read.
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A result file is not in the format `nmlc run` writes.
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line, for text files.
        line: Option<usize>,
        /// What is wrong.
        problem: String,
    },
    /// The image could not be written.
    Write(OutputError),
    /// The drawing library failed (a bug in nmlc).
    Render(String),
}

impl PlotError {
    /// The exit code, as documented in `docs/cli.md`: 2 for a folder or flag
    /// that cannot be used, 1 for result files that cannot be read or images
    /// that cannot be written, 3 for an internal failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            PlotError::MissingFolder { .. }
            | PlotError::NotAFolder { .. }
            | PlotError::NoResults { .. }
            | PlotError::BadStem { .. } => 2,
            PlotError::Unreadable { .. } | PlotError::Malformed { .. } | PlotError::Write(_) => 1,
            PlotError::Render(_) => 3,
        }
    }

    /// A hint on what to do, where there is one.
    pub fn help(&self) -> Option<String> {
        match self {
            PlotError::MissingFolder { path } | PlotError::NoResults { path } => Some(format!(
                "write results there first with `nmlc run FILE -o {}`",
                path.display()
            )),
            PlotError::BadStem { .. } => Some("give a name such as `-o raster`".to_string()),
            _ => None,
        }
    }
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::MissingFolder { path } => {
                write!(f, "there is no result folder `{}`", path.display())
            }
            PlotError::NotAFolder { path } => {
                write!(f, "`{}` is a file, not a result folder", path.display())
            }
            PlotError::NoResults { path } => write!(
                f,
                "`{}` holds no results of `nmlc run` (spikes.csv, trace_*.csv or results.npz)",
                path.display()
            ),
            PlotError::BadStem { stem } => {
                write!(f, "-o: `{}` names no file", stem.display())
            }
            PlotError::Unreadable { path, source } => {
                write!(f, "cannot read `{}`: {source}", path.display())
            }
            PlotError::Malformed {
                path,
                line: Some(line),
                problem,
            } => write!(f, "{}:{line}: {problem}", path.display()),
            PlotError::Malformed {
                path,
                line: None,
                problem,
            } => write!(f, "{}: {problem}", path.display()),
            PlotError::Write(e) => write!(f, "cannot write the figure: {e}"),
            PlotError::Render(problem) => write!(f, "cannot draw the figure: {problem}"),
        }
    }
}

/// Draws the results in `dir` and writes `<stem>.png` and/or `<stem>.svg`;
/// returns the paths written.
///
/// A bare `stem` (or none: [`DEFAULT_STEM`]) names a file in `dir`; a stem with
/// a folder in it is taken as it is, relative to the current folder.
pub fn plot_folder(
    dir: &Path,
    stem: Option<&Path>,
    formats: ImageFormats,
) -> Result<Vec<PathBuf>, PlotError> {
    match std::fs::metadata(dir) {
        Ok(metadata) if !metadata.is_dir() => {
            return Err(PlotError::NotAFolder {
                path: dir.to_path_buf(),
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PlotError::MissingFolder {
                path: dir.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(PlotError::Unreadable {
                path: dir.to_path_buf(),
                source,
            });
        }
    }
    let (folder, name) = destination(dir, stem)?;
    let results = results::read(dir)?;
    register_font()?;
    let figure = figure::Figure::plan(&results);
    // The folder of the results exists; a folder named in `-o` may not yet.
    let out = OutputDir::create(&folder, true).map_err(PlotError::Write)?;
    let mut written = Vec::new();
    if formats.png {
        let png = figure.render_png().map_err(PlotError::Render)?;
        let path = out
            .write_file(&format!("{name}.png"), &png)
            .map_err(PlotError::Write)?;
        written.push(path);
    }
    if formats.svg {
        let svg = figure.render_svg().map_err(PlotError::Render)?;
        let path = out
            .write_file(&format!("{name}.svg"), svg.as_bytes())
            .map_err(PlotError::Write)?;
        written.push(path);
    }
    Ok(written)
}

/// The folder and file stem the images go to.
fn destination(dir: &Path, stem: Option<&Path>) -> Result<(PathBuf, String), PlotError> {
    let Some(stem) = stem else {
        return Ok((dir.to_path_buf(), DEFAULT_STEM.to_string()));
    };
    let bad = || PlotError::BadStem {
        stem: stem.to_path_buf(),
    };
    let name = stem.file_name().and_then(|n| n.to_str()).ok_or_else(bad)?;
    // `-o fig.png` means the stem `fig`, not `fig.png.png`.
    let name = name
        .strip_suffix(".png")
        .or_else(|| name.strip_suffix(".svg"))
        .unwrap_or(name);
    if name.is_empty() || name.starts_with('.') {
        return Err(bad());
    }
    let folder = match stem.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => dir.to_path_buf(),
    };
    Ok((folder, name.to_string()))
}

/// Registers the embedded font once per process.
fn register_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, plotters::style::FontStyle::Normal, DEJAVU_SANS)
            .is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Render(
            "the embedded font cannot be read".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_stem_goes_into_the_result_folder_and_a_path_is_taken_as_given() {
        let dir = Path::new("out/run1");
        let (folder, name) = destination(dir, None).unwrap();
        assert_eq!((folder.as_path(), name.as_str()), (dir, "plot"));
        let (folder, name) = destination(dir, Some(Path::new("raster.png"))).unwrap();
        assert_eq!((folder.as_path(), name.as_str()), (dir, "raster"));
        let (folder, name) = destination(dir, Some(Path::new("figs/run1"))).unwrap();
        assert_eq!(
            (folder.as_path(), name.as_str()),
            (Path::new("figs"), "run1")
        );
        assert!(matches!(
            destination(dir, Some(Path::new(".."))),
            Err(PlotError::BadStem { .. })
        ));
    }

    #[test]
    fn the_embedded_font_registers() {
        assert!(register_font().is_ok());
    }
}
