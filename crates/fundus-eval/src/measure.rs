//! The names of the retrieval measures.
//!
//! Two naming schemes are in use and both are needed: BEIR's (`NDCG@10`),
//! which is what papers and leaderboards print and what reports here use,
//! and pytrec_eval's (`ndcg_cut_10`), which is what the reference numbers
//! the metrics are checked against are keyed by.

use std::fmt;

/// One retrieval measure, with its cutoff where it has one.
///
/// All definitions are trec_eval's (relevant = grade >= 1), see
/// [`crate::metrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    /// nDCG over the top k, trec_eval `ndcg_cut`: gain = grade, log2 discount.
    Ndcg(usize),
    /// Average precision over the top k, trec_eval `map_cut`.
    Map(usize),
    /// Share of the relevant documents found in the top k, trec_eval `recall`.
    Recall(usize),
    /// Share of the top k that is relevant, trec_eval `P`.
    Precision(usize),
    /// Reciprocal rank of the first relevant document if it is in the top
    /// k, else 0: BEIR's `MRR@k` (`custom_metrics.mrr`).
    Mrr(usize),
    /// Reciprocal rank of the first relevant document anywhere in the
    /// list, trec_eval `recip_rank`.
    RecipRank,
}

impl Measure {
    /// The measures BEIR reports, for every cutoff, plus `recip_rank`, in
    /// BEIR's order (NDCG, MAP, Recall, P, then MRR).
    pub fn standard(cutoffs: &[usize]) -> Vec<Measure> {
        let families: [fn(usize) -> Measure; 5] = [
            Measure::Ndcg,
            Measure::Map,
            Measure::Recall,
            Measure::Precision,
            Measure::Mrr,
        ];
        let mut measures: Vec<Measure> = families
            .iter()
            .flat_map(|family| cutoffs.iter().map(|&k| family(k)))
            .collect();
        measures.push(Measure::RecipRank);
        measures
    }

    /// The cutoff, if the measure has one.
    pub fn cutoff(&self) -> Option<usize> {
        match *self {
            Measure::Ndcg(k)
            | Measure::Map(k)
            | Measure::Recall(k)
            | Measure::Precision(k)
            | Measure::Mrr(k) => Some(k),
            Measure::RecipRank => None,
        }
    }

    /// BEIR's name: `NDCG@10`, `MAP@10`, `Recall@10`, `P@10`, `MRR@10`;
    /// `MRR` for the uncut reciprocal rank.
    pub fn name(&self) -> String {
        match *self {
            Measure::Ndcg(k) => format!("NDCG@{k}"),
            Measure::Map(k) => format!("MAP@{k}"),
            Measure::Recall(k) => format!("Recall@{k}"),
            Measure::Precision(k) => format!("P@{k}"),
            Measure::Mrr(k) => format!("MRR@{k}"),
            Measure::RecipRank => "MRR".to_string(),
        }
    }

    /// pytrec_eval's result key (`ndcg_cut_10`, `map_cut_10`, `recall_10`,
    /// `P_10`, `recip_rank`). `MRR@k` has none: trec_eval has no cut
    /// reciprocal rank, BEIR computes it outside pytrec_eval.
    pub fn trec_name(&self) -> Option<String> {
        match *self {
            Measure::Ndcg(k) => Some(format!("ndcg_cut_{k}")),
            Measure::Map(k) => Some(format!("map_cut_{k}")),
            Measure::Recall(k) => Some(format!("recall_{k}")),
            Measure::Precision(k) => Some(format!("P_{k}")),
            Measure::Mrr(_) => None,
            Measure::RecipRank => Some("recip_rank".to_string()),
        }
    }

    /// Parses either naming scheme (`NDCG@10` or `ndcg_cut_10`,
    /// case-insensitive). Cutoffs must be positive.
    pub fn parse(name: &str) -> Option<Measure> {
        let lower = name.trim().to_ascii_lowercase();
        if lower == "mrr" || lower == "recip_rank" {
            return Some(Measure::RecipRank);
        }
        let (family, k) = lower.rsplit_once('@').or_else(|| lower.rsplit_once('_'))?;
        let k: usize = k.parse().ok().filter(|&k| k > 0)?;
        match family {
            "ndcg" | "ndcg_cut" => Some(Measure::Ndcg(k)),
            "map" | "map_cut" => Some(Measure::Map(k)),
            "recall" => Some(Measure::Recall(k)),
            "p" | "precision" => Some(Measure::Precision(k)),
            "mrr" => Some(Measure::Mrr(k)),
            _ => None,
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_parse() {
        for m in Measure::standard(&[1, 10, 100]) {
            assert_eq!(Measure::parse(&m.name()), Some(m), "{m}");
            if let Some(trec) = m.trec_name() {
                assert_eq!(Measure::parse(&trec), Some(m), "{trec}");
            }
        }
    }

    #[test]
    fn beir_and_trec_names() {
        assert_eq!(Measure::Ndcg(10).name(), "NDCG@10");
        assert_eq!(
            Measure::Ndcg(10).trec_name().as_deref(),
            Some("ndcg_cut_10")
        );
        assert_eq!(Measure::Precision(5).trec_name().as_deref(), Some("P_5"));
        assert_eq!(Measure::Mrr(10).trec_name(), None);
        assert_eq!(Measure::RecipRank.name(), "MRR");
    }

    #[test]
    fn standard_order_is_beirs() {
        let names: Vec<String> = Measure::standard(&[1, 10])
            .iter()
            .map(Measure::name)
            .collect();
        assert_eq!(
            names,
            [
                "NDCG@1",
                "NDCG@10",
                "MAP@1",
                "MAP@10",
                "Recall@1",
                "Recall@10",
                "P@1",
                "P@10",
                "MRR@1",
                "MRR@10",
                "MRR"
            ]
        );
    }

    #[test]
    fn rejects_unknown_and_zero_cutoff() {
        assert_eq!(Measure::parse("bpref"), None);
        assert_eq!(Measure::parse("NDCG@0"), None);
        assert_eq!(Measure::parse("NDCG@x"), None);
    }
}
