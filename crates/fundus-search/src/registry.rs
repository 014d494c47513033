//! The stages a pipeline can name.
//!
//! The registry is the one place that maps pipeline words to
//! implementations; the runner looks names up here once, when it is built,
//! so an unknown name is an error before any query runs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::error::RegistryError;
use crate::pipeline::is_stage_name;
use crate::stage::{Rescorer, Retriever};

/// Stages by name, in their two roles.
#[derive(Clone, Default)]
pub struct StageRegistry {
    retrievers: BTreeMap<String, Arc<dyn Retriever>>,
    rescorers: BTreeMap<String, Arc<dyn Rescorer>>,
}

impl StageRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a stage that can start a pipeline, under its [`name`](crate::Stage::name).
    pub fn add_retriever(&mut self, stage: Arc<dyn Retriever>) -> Result<&mut Self, RegistryError> {
        let name = stage.name().to_string();
        check_name(&name, self.retrievers.contains_key(&name))?;
        self.retrievers.insert(name, stage);
        Ok(self)
    }

    /// Adds a stage that can follow `->`, under its [`name`](crate::Stage::name).
    pub fn add_rescorer(&mut self, stage: Arc<dyn Rescorer>) -> Result<&mut Self, RegistryError> {
        let name = stage.name().to_string();
        check_name(&name, self.rescorers.contains_key(&name))?;
        self.rescorers.insert(name, stage);
        Ok(self)
    }

    /// Adds a stage in both roles (dense: search the index, or score given
    /// ids). Nothing is added if the name is taken in either role.
    pub fn add<S: Retriever + Rescorer + 'static>(
        &mut self,
        stage: Arc<S>,
    ) -> Result<&mut Self, RegistryError> {
        let name = stage.name().to_string();
        let taken = self.retrievers.contains_key(&name) || self.rescorers.contains_key(&name);
        check_name(&name, taken)?;
        self.retrievers.insert(name.clone(), stage.clone());
        self.rescorers.insert(name, stage);
        Ok(self)
    }

    /// The retriever called `name`.
    pub fn retriever(&self, name: &str) -> Option<&Arc<dyn Retriever>> {
        self.retrievers.get(name)
    }

    /// The rescorer called `name`.
    pub fn rescorer(&self, name: &str) -> Option<&Arc<dyn Rescorer>> {
        self.rescorers.get(name)
    }

    /// Every registered name, in either role, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .retrievers
            .keys()
            .chain(self.rescorers.keys())
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

fn check_name(name: &str, taken: bool) -> Result<(), RegistryError> {
    let reason = if !is_stage_name(name) {
        "a stage name is ASCII letters, digits, `_` and inner `-`, starts with a letter or `_`, \
         and is none of the fusion names rrf, weighted, dbsf"
    } else if taken {
        "a stage of that name and role is already registered"
    } else {
        return Ok(());
    };
    Err(RegistryError {
        name: name.to_string(),
        reason: reason.to_string(),
    })
}

impl fmt::Debug for StageRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StageRegistry")
            .field("retrievers", &self.retrievers.keys().collect::<Vec<_>>())
            .field("rescorers", &self.rescorers.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StageError;
    use crate::stage::{Query, Stage};

    struct Named(&'static str);
    impl Stage for Named {
        fn name(&self) -> &str {
            self.0
        }
    }
    impl Retriever for Named {
        fn retrieve(&self, _: &Query, _: usize) -> Result<Vec<(String, f32)>, StageError> {
            Ok(Vec::new())
        }
    }
    impl Rescorer for Named {
        fn rescore(&self, _: &Query, _: &[String]) -> Result<Vec<(String, f32)>, StageError> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn names_are_checked_and_unique_per_role() {
        let mut r = StageRegistry::new();
        r.add(Arc::new(Named("dense"))).unwrap();
        r.add_retriever(Arc::new(Named("bm25"))).unwrap();
        r.add_rescorer(Arc::new(Named("cross-encoder"))).unwrap();
        assert_eq!(r.names(), ["bm25", "cross-encoder", "dense"]);
        assert!(r.retriever("dense").is_some() && r.rescorer("dense").is_some());
        assert!(r.rescorer("bm25").is_none());

        let e = r.add_retriever(Arc::new(Named("bm25"))).unwrap_err();
        assert!(e.reason.contains("already registered"), "{e}");
        // `add` is all or nothing: bm25 is taken as a retriever.
        assert!(r.add(Arc::new(Named("bm25"))).is_err());
        assert!(r.rescorer("bm25").is_none());
        for bad in ["rrf", "RRF", "dbsf", "", "9lives", "a b", "x-", "dense(1)"] {
            assert!(r.add_retriever(Arc::new(Named(bad))).is_err(), "{bad:?}");
        }
        assert!(format!("{r:?}").contains("cross-encoder"));
    }
}
