//! Loading a model file and everything it imports.
//!
//! `import stdlib.a.b` resolves to the embedded standard library, `import
//! a.b` to `a/b.nml` and `import "x.nml"` to `x.nml`, both relative to the
//! importing file's folder. Every file is parsed once, however often it is
//! imported; an import cycle is an error that names the whole chain. The
//! compiler reads files only through the [`FileReader`] its caller provides.

use crate::diagnostics::{Diagnostics, catalog};
use crate::source::{FileId, Origin, SourceMap, Span};
use crate::stdlib;
use crate::syntax::{ast, parse_file};
use std::path::{Path, PathBuf};

/// Largest model file accepted, in bytes.
pub const MAX_FILE_SIZE: usize = 64 << 20;

/// How the loader obtains the bytes of a file.
pub trait FileReader {
    /// The contents of `path`, or a message saying why they cannot be read.
    fn read(&self, path: &Path) -> Result<Vec<u8>, String>;
}

/// Reads files from disk.
pub struct DiskReader;

impl FileReader for DiskReader {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        let meta = std::fs::metadata(path).map_err(|e| io_reason(&e))?;
        if meta.is_dir() {
            return Err("it is a directory".into());
        }
        if meta.len() as usize > MAX_FILE_SIZE {
            return Err(format!(
                "it is {} MiB, larger than the {} MiB limit for model files",
                meta.len() >> 20,
                MAX_FILE_SIZE >> 20
            ));
        }
        std::fs::read(path).map_err(|e| io_reason(&e))
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// A parsed file and the files it imports.
#[derive(Debug)]
pub struct LoadedFile {
    /// The file.
    pub id: FileId,
    /// Its syntax tree.
    pub ast: ast::File,
}

/// Every file of a compilation, parsed.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Texts of all files, for diagnostics.
    pub sources: SourceMap,
    /// Parsed files, imported ones before their importers.
    pub files: Vec<LoadedFile>,
    /// The files named by the user (not reached through imports).
    pub roots: Vec<FileId>,
}

/// Loads files and their imports.
pub struct Loader<'r> {
    reader: &'r dyn FileReader,
    loaded: Loaded,
    diagnostics: Diagnostics,
    /// Files being loaded, innermost last, for cycle detection.
    stack: Vec<FileId>,
}

impl<'r> Loader<'r> {
    /// A loader reading through `reader`.
    pub fn new(reader: &'r dyn FileReader) -> Loader<'r> {
        Loader {
            reader,
            loaded: Loaded::default(),
            diagnostics: Diagnostics::new(),
            stack: Vec::new(),
        }
    }

    /// Loads a file from a path given by the user.
    pub fn load_path(&mut self, path: &Path) {
        match self.reader.read(path) {
            Ok(bytes) => {
                let name = path.display().to_string();
                let id = self.add_bytes(name, Origin::Disk(normalise(path)), bytes);
                self.loaded.roots.push(id);
                self.parse_and_follow(id);
            }
            Err(reason) => self.diagnostics.push(catalog::unreadable_file(
                &path.display().to_string(),
                &reason,
                None,
            )),
        }
    }

    /// Loads text given directly (tests, editors); imports resolve relative
    /// to `dir` if given.
    pub fn load_text(&mut self, name: &str, text: &str, dir: Option<&Path>) {
        let origin = match dir {
            Some(d) => Origin::Disk(d.join(name)),
            None => Origin::Memory,
        };
        let id = self.loaded.sources.add(name, origin, text);
        self.loaded.roots.push(id);
        self.parse_and_follow(id);
    }

    /// Loads a standard-library module by its module path.
    pub fn load_stdlib(&mut self, module: &str) -> Option<FileId> {
        let origin = Origin::Stdlib(module.to_string());
        if let Some(id) = self.loaded.sources.find(&origin) {
            return Some(id);
        }
        let text = stdlib::lookup(module)?;
        let name = format!("<{}>", module.replace('.', "/") + ".nml");
        let id = self.loaded.sources.add(name, origin, text);
        self.parse_and_follow(id);
        Some(id)
    }

    /// Finishes loading.
    pub fn finish(self) -> (Loaded, Diagnostics) {
        (self.loaded, self.diagnostics)
    }

    /// Adds file bytes to the source map, reporting invalid UTF-8 (the text
    /// is kept, with replacement characters, so spans still work).
    fn add_bytes(&mut self, name: String, origin: Origin, bytes: Vec<u8>) -> FileId {
        match String::from_utf8(bytes) {
            Ok(text) => self.loaded.sources.add(name, origin, text),
            Err(e) => {
                let offset = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let id = self.loaded.sources.add(name, origin, text);
                self.diagnostics.push(catalog::invalid_utf8(
                    Span::new(id, offset, offset + 1),
                    offset,
                ));
                id
            }
        }
    }

    fn parse_and_follow(&mut self, id: FileId) {
        let text = self.loaded.sources.get(id).text.clone();
        let (file, syntax_errors) = parse_file(id, &text);
        self.diagnostics.extend(syntax_errors);
        self.stack.push(id);
        for item in &file.items {
            if let ast::Item::Import(import) = item {
                self.follow(id, import);
            }
        }
        self.stack.pop();
        self.loaded.files.push(LoadedFile { id, ast: file });
    }

    fn follow(&mut self, from: FileId, import: &ast::Import) {
        let origin = match &import.target {
            ast::ImportTarget::Module(path) if path.first().is_some_and(|p| p.name == "stdlib") => {
                let module: Vec<&str> = path.iter().map(|p| p.name.as_str()).collect();
                let module = module.join(".");
                if stdlib::lookup(&module).is_none() {
                    let known: Vec<String> = stdlib::modules().map(|(m, _)| m).collect();
                    let candidates =
                        crate::names::did_you_mean(&module, known.iter().map(String::as_str));
                    self.diagnostics.push(catalog::import_not_found(
                        import.span,
                        &module,
                        &candidates,
                    ));
                    return;
                }
                Origin::Stdlib(module)
            }
            ast::ImportTarget::Module(path) => {
                let rel: PathBuf = path.iter().map(|p| p.name.as_str()).collect();
                match self.relative(from, &rel.with_extension("nml")) {
                    Some(p) => Origin::Disk(p),
                    None => {
                        self.unresolvable(import);
                        return;
                    }
                }
            }
            ast::ImportTarget::Path(p) => match self.relative(from, Path::new(p)) {
                Some(p) => Origin::Disk(p),
                None => {
                    self.unresolvable(import);
                    return;
                }
            },
        };
        if let Some(existing) = self.loaded.sources.find(&origin) {
            if let Some(pos) = self.stack.iter().position(|f| *f == existing) {
                let mut chain: Vec<String> = self.stack[pos..]
                    .iter()
                    .map(|f| self.loaded.sources.get(*f).name.clone())
                    .collect();
                chain.push(self.loaded.sources.get(existing).name.clone());
                self.diagnostics
                    .push(catalog::import_cycle(import.span, &chain));
            }
            return;
        }
        match origin {
            Origin::Stdlib(module) => {
                self.load_stdlib(&module);
            }
            Origin::Disk(path) => match self.reader.read(&path) {
                Ok(bytes) => {
                    let id = self.add_bytes(path.display().to_string(), Origin::Disk(path), bytes);
                    self.parse_and_follow(id);
                }
                Err(reason) if reason == "no such file" => self.diagnostics.push(
                    catalog::import_not_found(import.span, &path.display().to_string(), &[]),
                ),
                Err(reason) => self.diagnostics.push(catalog::unreadable_file(
                    &path.display().to_string(),
                    &reason,
                    Some(import.span),
                )),
            },
            Origin::Memory => {}
        }
    }

    /// `rel` resolved against the folder of file `from`.
    fn relative(&self, from: FileId, rel: &Path) -> Option<PathBuf> {
        match &self.loaded.sources.get(from).origin {
            Origin::Disk(p) => Some(normalise(&p.parent().unwrap_or(Path::new(".")).join(rel))),
            Origin::Memory => Some(normalise(rel)),
            // The standard library imports only from itself.
            Origin::Stdlib(_) => None,
        }
    }

    fn unresolvable(&mut self, import: &ast::Import) {
        let what = match &import.target {
            ast::ImportTarget::Path(p) => p.clone(),
            ast::ImportTarget::Module(m) => m
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join("."),
        };
        self.diagnostics
            .push(catalog::import_not_found(import.span, &what, &[]));
    }
}

/// Removes `.` and `a/..` components so one file has one name.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
