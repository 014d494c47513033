//! The directory that holds all collections.

use std::fs;
use std::path::{Path, PathBuf};

use crate::collection::Collection;
use crate::error::StoreError;
use crate::manifest::{CollectionConfig, MANIFEST_FILE};

/// A data directory: `<root>/collections/<name>/`.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// `$FUNDUS_DATA`, else the user's data directory (`~/.local/share/fundus`).
    pub fn default_root() -> PathBuf {
        if let Some(d) = std::env::var_os("FUNDUS_DATA").filter(|d| !d.is_empty()) {
            return PathBuf::from(d);
        }
        dirs::data_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("fundus")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn collections(&self) -> PathBuf {
        self.root.join("collections")
    }

    fn path_of(&self, name: &str) -> Result<PathBuf, StoreError> {
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(StoreError::InvalidName(name.into()));
        }
        Ok(self.collections().join(name))
    }

    /// Names of all collections, sorted.
    pub fn list(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.collections();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&dir, e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(MANIFEST_FILE).is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path_of(name)
            .map(|p| p.join(MANIFEST_FILE).is_file())
            .unwrap_or(false)
    }

    /// Creates an empty collection, opened for writing.
    pub fn create(&self, config: CollectionConfig) -> Result<Collection, StoreError> {
        let path = self.path_of(&config.name)?;
        if path.join(MANIFEST_FILE).is_file() {
            return Err(StoreError::AlreadyExists(config.name));
        }
        fs::create_dir_all(&path).map_err(|e| StoreError::io(&path, e))?;
        Collection::create(path, config)
    }

    /// Opens a collection for reading and searching.
    pub fn open(&self, name: &str) -> Result<Collection, StoreError> {
        Collection::open(self.existing(name)?, false)
    }

    /// Opens a collection for appending; fails while another writer holds it.
    pub fn open_for_write(&self, name: &str) -> Result<Collection, StoreError> {
        Collection::open(self.existing(name)?, true)
    }

    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        let path = self.existing(name)?;
        // Take the writer lock so a running ingest is not pulled from under it.
        let c = Collection::open(path.clone(), true)?;
        drop(c);
        fs::remove_dir_all(&path).map_err(|e| StoreError::io(&path, e))
    }

    fn existing(&self, name: &str) -> Result<PathBuf, StoreError> {
        let path = self.path_of(name)?;
        if !path.join(MANIFEST_FILE).is_file() {
            let available = self.list()?;
            return Err(StoreError::UnknownCollection {
                name: name.into(),
                available: if available.is_empty() {
                    "none yet; create one with `fundus ingest`".into()
                } else {
                    available.join(", ")
                },
            });
        }
        Ok(path)
    }
}
