//! The result of an evaluation, per query and averaged.
//!
//! A report is meant to be saved as JSON next to the run it scores and read
//! back later to compare systems, so it serializes with BEIR's measure
//! names as keys (`"NDCG@10"`) in BEIR's order, and deserializes again.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Measure;

/// Measure values in a fixed order; serialized as a JSON object keyed by
/// [`Measure::name`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    entries: Vec<(Measure, f64)>,
}

impl Scores {
    /// The value of `measure`, if present.
    pub fn get(&self, measure: Measure) -> Option<f64> {
        self.entries
            .iter()
            .find(|(m, _)| *m == measure)
            .map(|&(_, v)| v)
    }

    /// The value of a measure given by name in either scheme (`NDCG@10`,
    /// `ndcg_cut_10`).
    pub fn get_name(&self, name: &str) -> Option<f64> {
        self.get(Measure::parse(name)?)
    }

    /// The measures, in order.
    pub fn measures(&self) -> impl Iterator<Item = Measure> + '_ {
        self.entries.iter().map(|&(m, _)| m)
    }

    /// `(measure, value)` pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (Measure, f64)> + '_ {
        self.entries.iter().copied()
    }

    /// Number of measures.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no measure.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromIterator<(Measure, f64)> for Scores {
    fn from_iter<I: IntoIterator<Item = (Measure, f64)>>(iter: I) -> Self {
        Scores {
            entries: iter.into_iter().collect(),
        }
    }
}

impl Serialize for Scores {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (measure, value) in &self.entries {
            map.serialize_entry(&measure.name(), value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Scores {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScoresVisitor;

        impl<'de> Visitor<'de> for ScoresVisitor {
            type Value = Scores;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of measure name -> value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scores, A::Error> {
                let mut entries = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, f64>()? {
                    let measure = Measure::parse(&name).ok_or_else(|| {
                        serde::de::Error::custom(format!("unknown measure {name:?}"))
                    })?;
                    entries.push((measure, value));
                }
                Ok(Scores { entries })
            }
        }

        deserializer.deserialize_map(ScoresVisitor)
    }
}

/// Per-query and mean values of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Queries evaluated and averaged: in the run and in the qrels.
    pub num_queries: usize,
    /// Run queries without judgements, ignored (as pytrec_eval does).
    pub unjudged_queries: usize,
    /// Judged queries absent from the run, not averaged (as pytrec_eval
    /// and BEIR do). Non-zero usually means a broken run.
    pub unanswered_queries: usize,
    /// The cutoffs k the measures were computed at.
    pub cutoffs: Vec<usize>,
    /// Arithmetic mean over the evaluated queries (0 when there is none).
    pub mean: Scores,
    /// Values per query id.
    pub per_query: BTreeMap<String, Scores>,
}

impl Report {
    /// Mean value of a measure by name (`"NDCG@10"`, `"ndcg_cut_10"`).
    pub fn mean(&self, name: &str) -> Option<f64> {
        self.mean.get_name(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mean: Scores = [(Measure::Ndcg(10), 0.5), (Measure::RecipRank, 0.25)]
            .into_iter()
            .collect();
        let mut per_query = BTreeMap::new();
        per_query.insert("q1".to_string(), mean.clone());
        Report {
            num_queries: 1,
            unjudged_queries: 0,
            unanswered_queries: 2,
            cutoffs: vec![10],
            mean,
            per_query,
        }
    }

    #[test]
    fn serializes_with_beir_names_in_order() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert!(
            json.contains(r#""mean":{"NDCG@10":0.5,"MRR":0.25}"#),
            "{json}"
        );
    }

    #[test]
    fn round_trips_through_json() {
        let report = sample();
        let json = serde_json::to_string_pretty(&report).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
        assert_eq!(back.mean("ndcg_cut_10"), Some(0.5));
    }

    #[test]
    fn unknown_measure_is_a_deserialization_error() {
        let err = serde_json::from_str::<Scores>(r#"{"bpref": 1.0}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown measure \"bpref\""),
            "{err}"
        );
    }
}
