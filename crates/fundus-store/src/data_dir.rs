//! The directory that holds all collections.
//!
//! Names given to [`DataDir::open`], [`DataDir::open_for_write`] and
//! [`DataDir::exists`] may be aliases ([`crate::alias`]); they are resolved
//! to the collection first. Folders in `collections/` whose names start with
//! `.` are work in progress (a snapshot being taken, a restore being
//! unpacked) and never count as collections.

use std::fs;
use std::path::{Path, PathBuf};

use crate::collection::Collection;
use crate::error::StoreError;
use crate::manifest::{CollectionConfig, Manifest, MANIFEST_FILE};

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

    pub(crate) fn collections(&self) -> PathBuf {
        self.root.join("collections")
    }

    /// The folder of collection `name` (not resolving aliases).
    pub(crate) fn path_of(&self, name: &str) -> Result<PathBuf, StoreError> {
        if !valid_name(name) {
            return Err(StoreError::InvalidName(name.into()));
        }
        Ok(self.collections().join(name))
    }

    /// Whether a collection of exactly this name exists (not an alias).
    pub(crate) fn is_collection(&self, name: &str) -> bool {
        self.path_of(name)
            .map(|p| p.join(MANIFEST_FILE).is_file())
            .unwrap_or(false)
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
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Whether `name` is a collection or an alias of one.
    pub fn exists(&self, name: &str) -> bool {
        self.resolve(name)
            .map(|n| self.is_collection(&n))
            .unwrap_or(false)
    }

    /// Creates an empty collection, opened for writing. The name may not be
    /// an alias's: `open` would never reach the collection.
    pub fn create(&self, config: CollectionConfig) -> Result<Collection, StoreError> {
        let path = self.path_of(&config.name)?;
        // Under the alias lock, so no alias of this name appears meanwhile.
        let _aliases = self.lock_aliases()?;
        self.refuse_alias_name(&config.name)?;
        if path.join(MANIFEST_FILE).is_file() {
            return Err(StoreError::AlreadyExists(config.name));
        }
        fs::create_dir_all(&path).map_err(|e| StoreError::io(&path, e))?;
        Collection::create(path, config)
    }

    /// Opens a collection (or the collection an alias points to) for
    /// reading and searching.
    pub fn open(&self, name: &str) -> Result<Collection, StoreError> {
        Collection::open(self.existing(name)?, false)
    }

    /// A collection's (or an alias's) config, without loading its points.
    pub fn config(&self, name: &str) -> Result<CollectionConfig, StoreError> {
        Ok(Manifest::read(&self.existing(name)?)?.config)
    }

    /// Opens a collection (or an alias's) for appending; fails while
    /// another writer holds it.
    pub fn open_for_write(&self, name: &str) -> Result<Collection, StoreError> {
        Collection::open(self.existing(name)?, true)
    }

    /// Deletes a collection and its files. Refused while an alias points to
    /// it: the alias would dangle and every query through it would fail.
    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        let path = self.existing(name)?;
        let target = self.resolve(name)?;
        // Under the alias lock, so no alias switches to it meanwhile.
        let _aliases = self.lock_aliases()?;
        let pointing = self.aliases_of(&target)?;
        if !pointing.is_empty() {
            let list = pointing
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(StoreError::AliasConflict {
                name: target,
                reason: format!(
                    "alias {list} points to this collection; switch the alias to another \
                     collection or remove it before deleting"
                ),
            });
        }
        // Take the writer lock so a running ingest is not pulled from under it.
        let c = Collection::open(path.clone(), true)?;
        drop(c);
        fs::remove_dir_all(&path).map_err(|e| StoreError::io(&path, e))
    }

    /// The folder of the collection `name` names, resolving an alias.
    pub(crate) fn existing(&self, name: &str) -> Result<PathBuf, StoreError> {
        let target = self.resolve(name)?;
        let path = self.path_of(&target)?;
        if !path.join(MANIFEST_FILE).is_file() {
            let collections = self.list()?;
            let aliases = self.aliases()?;
            let mut available = if collections.is_empty() {
                "none yet; create one with `fundus ingest`".to_string()
            } else {
                collections.join(", ")
            };
            if !aliases.is_empty() {
                let names: Vec<&str> = aliases.keys().map(String::as_str).collect();
                available.push_str(&format!("; aliases: {}", names.join(", ")));
            }
            if target != name {
                // Only a folder removed by hand leaves an alias dangling.
                return Err(StoreError::AliasConflict {
                    name: name.into(),
                    reason: format!(
                        "the alias points to collection {target:?}, which does not exist \
                         (collections: {available}); switch or remove the alias"
                    ),
                });
            }
            return Err(StoreError::UnknownCollection {
                name: name.into(),
                available,
            });
        }
        Ok(path)
    }
}

/// Collection and alias names: they become folder names, so nothing that
/// could climb out of `collections/` or hide in it.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
