//! Aliases: stable names that point to a collection and switch atomically.
//!
//! Clients search `products`; `products` is an alias of `products_v1`. To
//! re-embed with a new model, build `products_v2` beside it, then switch
//! the alias: every query after the switch goes to the new collection (and
//! is embedded with its model), none goes nowhere. Rolling back is switching
//! again.
//!
//! All aliases live in one small file, `<data root>/aliases.json`
//! (`{"alias": "collection"}`). A change reads it, edits it and replaces it
//! atomically (temporary file, fsync, rename, fsync directory) while holding
//! `aliases.lock` (`flock`), so two processes switching aliases at once both
//! land and a reader, which takes no lock, sees the old map or the new one.
//!
//! Aliases and collections share one namespace: an alias may not take a
//! collection's name and a collection may not take an alias's, or the name
//! would mean two things. An alias points to a collection, never to another
//! alias, and a collection an alias points to cannot be deleted.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use fs2::FileExt;

use crate::data_dir::{valid_name, DataDir};
use crate::error::StoreError;
use crate::manifest::sync_dir;

const ALIASES_FILE: &str = "aliases.json";
const LOCK_FILE: &str = "aliases.lock";

/// Holds `aliases.lock` until dropped; closing the file releases the flock.
pub(crate) struct AliasLock {
    _file: File,
}

impl DataDir {
    fn aliases_path(&self) -> PathBuf {
        self.root().join(ALIASES_FILE)
    }

    /// Every alias and the collection it points to.
    pub fn aliases(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let path = self.aliases_path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            path,
            reason: format!("expected {{\"alias\": \"collection\", ...}}: {e}"),
        })
    }

    /// The collection `name` stands for: an alias's target, else `name`.
    pub fn resolve(&self, name: &str) -> Result<String, StoreError> {
        Ok(self
            .aliases()?
            .remove(name)
            .unwrap_or_else(|| name.to_string()))
    }

    /// The aliases that point to `collection`, sorted.
    pub fn aliases_of(&self, collection: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .aliases()?
            .into_iter()
            .filter(|(_, target)| target == collection)
            .map(|(alias, _)| alias)
            .collect())
    }

    /// Points `alias` at `collection`, creating the alias or switching it in
    /// one atomic step; returns the collection it pointed to before.
    pub fn set_alias(&self, alias: &str, collection: &str) -> Result<Option<String>, StoreError> {
        if !valid_name(alias) {
            return Err(StoreError::InvalidAliasName(alias.into()));
        }
        self.path_of(collection)?;
        let _lock = self.lock_aliases()?;
        let mut map = self.aliases()?;
        if self.is_collection(alias) {
            return Err(StoreError::AliasConflict {
                name: alias.into(),
                reason: "a collection has this name; give the alias a name of its own \
                         (e.g. collections products_v1, products_v2 and the alias products)"
                    .into(),
            });
        }
        if let Some(target) = map.get(collection) {
            return Err(StoreError::AliasConflict {
                name: collection.into(),
                reason: format!(
                    "this is an alias (of {target:?}); aliases point to collections, \
                     not to other aliases"
                ),
            });
        }
        // Refuses an unknown collection, listing the ones there are.
        self.existing(collection)?;
        let before = map.insert(alias.into(), collection.into());
        if before.as_deref() != Some(collection) {
            self.write_aliases(&map)?;
        }
        Ok(before)
    }

    /// Removes an alias; returns the collection it pointed to. The
    /// collection itself is untouched.
    pub fn remove_alias(&self, alias: &str) -> Result<String, StoreError> {
        let _lock = self.lock_aliases()?;
        let mut map = self.aliases()?;
        let Some(target) = map.remove(alias) else {
            let names: Vec<&str> = map.keys().map(String::as_str).collect();
            return Err(StoreError::UnknownAlias {
                name: alias.into(),
                available: if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                },
            });
        };
        self.write_aliases(&map)?;
        Ok(target)
    }

    /// Takes `aliases.lock`, waiting for another process that holds it.
    /// Everything that changes which names are taken (alias changes,
    /// creating, restoring and deleting collections) runs under it.
    pub(crate) fn lock_aliases(&self) -> Result<AliasLock, StoreError> {
        let root = self.root();
        fs::create_dir_all(root).map_err(|e| StoreError::io(root, e))?;
        let path = root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        file.lock_exclusive()
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(AliasLock { _file: file })
    }

    /// Refuses `name` for a new collection when an alias has it.
    pub(crate) fn refuse_alias_name(&self, name: &str) -> Result<(), StoreError> {
        match self.aliases()?.get(name) {
            Some(target) => Err(StoreError::AliasConflict {
                name: name.into(),
                reason: format!(
                    "an alias of this name points to collection {target:?}; pick another \
                     name for the collection, or remove the alias first"
                ),
            }),
            None => Ok(()),
        }
    }

    /// Replaces `aliases.json` atomically. Call with the lock held: the
    /// temporary file's name is fixed.
    fn write_aliases(&self, map: &BTreeMap<String, String>) -> Result<(), StoreError> {
        let path = self.aliases_path();
        let tmp = self.root().join(format!("{ALIASES_FILE}.tmp"));
        let mut body = serde_json::to_vec_pretty(map).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        body.push(b'\n');
        let mut f = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        f.write_all(&body)
            .and_then(|_| f.sync_all())
            .map_err(|e| StoreError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))?;
        sync_dir(self.root())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CollectionConfig, ModelInfo, Point};
    use fundus_core::Metric;

    fn model() -> ModelInfo {
        ModelInfo::toy(2)
    }

    /// A collection holding one document, `doc`.
    fn collection(data: &DataDir, name: &str, doc: &str) {
        let mut c = data
            .create(CollectionConfig::new(name, model(), Metric::Cosine))
            .unwrap();
        c.upsert(&[Point::whole(doc, doc)], &[vec![1.0, 0.0]])
            .unwrap();
    }

    fn top(data: &DataDir, name: &str) -> String {
        let c = data.open(name).unwrap();
        c.search(&[1.0, 0.0], 1).unwrap()[0].id.clone()
    }

    #[test]
    fn an_alias_switches_atomically_and_rolls_back() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        collection(&data, "products_v1", "old");
        collection(&data, "products_v2", "new");
        assert!(!data.exists("products"));

        assert_eq!(data.set_alias("products", "products_v1").unwrap(), None);
        assert!(data.exists("products"));
        assert_eq!(data.resolve("products").unwrap(), "products_v1");
        assert_eq!(data.resolve("other").unwrap(), "other");
        assert_eq!(top(&data, "products"), "old");

        let before = data.set_alias("products", "products_v2").unwrap();
        assert_eq!(before.as_deref(), Some("products_v1"));
        assert_eq!(top(&data, "products"), "new");
        // A writer through the alias writes the target.
        let mut w = data.open_for_write("products").unwrap();
        assert_eq!(w.config().name, "products_v2");
        w.upsert(&[Point::whole("newer", "x")], &[vec![0.0, 1.0]])
            .unwrap();
        drop(w);
        assert_eq!(data.open("products_v2").unwrap().documents(), 2);

        // Roll back.
        data.set_alias("products", "products_v1").unwrap();
        assert_eq!(top(&data, "products"), "old");
        assert_eq!(data.aliases_of("products_v1").unwrap(), ["products"]);
        assert!(data.aliases_of("products_v2").unwrap().is_empty());
        let text = fs::read_to_string(tmp.path().join(ALIASES_FILE)).unwrap();
        let on_disk: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
        assert_eq!(on_disk, data.aliases().unwrap());
        assert!(!tmp.path().join("aliases.json.tmp").exists());
        // Aliases are not collections.
        assert_eq!(data.list().unwrap(), ["products_v1", "products_v2"]);

        assert_eq!(data.remove_alias("products").unwrap(), "products_v1");
        assert!(data.aliases().unwrap().is_empty());
        assert!(!data.exists("products"));
        assert_eq!(top(&data, "products_v1"), "old");
    }

    #[test]
    fn names_are_not_shared_and_aliases_do_not_chain() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        collection(&data, "a", "x");
        collection(&data, "b", "y");

        let err = data.set_alias("a", "b").unwrap_err();
        assert!(matches!(err, StoreError::AliasConflict { .. }), "{err}");
        assert!(
            err.to_string().contains("a collection has this name"),
            "{err}"
        );

        data.set_alias("p", "a").unwrap();
        let err = data
            .create(CollectionConfig::new("p", model(), Metric::Cosine))
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::AliasConflict { .. }), "{err}");
        assert!(
            err.to_string().contains("points to collection \"a\""),
            "{err}"
        );

        let err = data.set_alias("q", "p").unwrap_err();
        assert!(err.to_string().contains("not to other aliases"), "{err}");

        let err = data.set_alias("q", "nope").unwrap_err();
        assert!(matches!(err, StoreError::UnknownCollection { .. }), "{err}");
        assert!(err.to_string().contains("aliases: p"), "{err}");
        assert!(matches!(
            data.set_alias("../q", "a"),
            Err(StoreError::InvalidAliasName(_))
        ));
        assert!(matches!(
            data.set_alias(".q", "a"),
            Err(StoreError::InvalidAliasName(_))
        ));
        let err = data.remove_alias("zzz").unwrap_err();
        assert!(matches!(err, StoreError::UnknownAlias { .. }), "{err}");
        assert!(err.to_string().contains("aliases: p"), "{err}");
        assert_eq!(
            data.aliases().unwrap().len(),
            1,
            "failed calls change nothing"
        );
    }

    #[test]
    fn a_collection_with_an_alias_cannot_be_deleted() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        collection(&data, "v1", "x");
        collection(&data, "v2", "y");
        data.set_alias("live", "v1").unwrap();
        data.set_alias("backup", "v1").unwrap();
        for name in ["v1", "live"] {
            let err = data.delete(name).unwrap_err();
            assert!(matches!(err, StoreError::AliasConflict { .. }), "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains("\"backup\"") && msg.contains("\"live\""),
                "{msg}"
            );
        }
        assert!(data.exists("v1"));
        data.set_alias("live", "v2").unwrap();
        data.remove_alias("backup").unwrap();
        data.delete("v1").unwrap();
        assert_eq!(data.list().unwrap(), ["v2"]);
    }

    #[test]
    fn a_dangling_alias_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        collection(&data, "v1", "x");
        data.set_alias("live", "v1").unwrap();
        // Only removing the folder by hand gets here.
        fs::remove_dir_all(tmp.path().join("collections/v1")).unwrap();
        let err = data.open("live").err().unwrap().to_string();
        assert!(err.contains("\"live\"") && err.contains("\"v1\""), "{err}");
        assert!(!data.exists("live"));
    }

    #[test]
    fn concurrent_switches_lose_no_update() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        collection(&data, "c", "x");
        std::thread::scope(|s| {
            for t in 0..4 {
                let data = data.clone();
                s.spawn(move || {
                    for i in 0..15 {
                        data.set_alias(&format!("a{t}-{i}"), "c").unwrap();
                    }
                });
            }
        });
        let map = data.aliases().unwrap();
        assert_eq!(map.len(), 60);
        assert!(map.values().all(|c| c == "c"));
    }

    #[test]
    fn a_damaged_alias_file_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path());
        fs::write(tmp.path().join(ALIASES_FILE), b"[1, 2").unwrap();
        let err = data.open("x").err().unwrap().to_string();
        assert!(err.contains("aliases.json"), "{err}");
    }
}
