//! Semantic textual similarity: STS-B pairs and the correlations used to
//! score an embedder on them.
//!
//! STS-B is the standard sanity check that an embedding model was loaded
//! correctly (all-MiniLM-L6-v2 reaches Spearman 0.82 on the English test
//! split): a wrong pooling or a missing normalization shows up here before
//! it shows up in retrieval numbers.

use std::cmp::Ordering;
use std::io::BufRead;
use std::path::Path;

use crate::lines::{for_each_line, open};
use crate::EvalError;

/// One sentence pair with its gold similarity (STS-B: 0 to 5).
#[derive(Debug, Clone, PartialEq)]
pub struct StsPair {
    /// Gold similarity score.
    pub score: f64,
    /// First sentence.
    pub sentence1: String,
    /// Second sentence.
    pub sentence2: String,
}

/// Reads an STS TSV file; see [`sts_from_reader`].
pub fn read_sts(path: impl AsRef<Path>) -> Result<Vec<StsPair>, EvalError> {
    let path = path.as_ref();
    sts_from_reader(open(path)?, path)
}

/// Reads tab-separated STS pairs whose header names the columns `score`,
/// `sentence1` and `sentence2` (any position, case-insensitive; other
/// columns such as genre or year are ignored).
///
/// Fields are split on tabs only, with no quote handling: STS-B has
/// unbalanced `"` inside MSRpar sentences, and a CSV reader that honours
/// quotes silently merges rows.
pub fn sts_from_reader<R: BufRead>(reader: R, source: &Path) -> Result<Vec<StsPair>, EvalError> {
    let mut columns: Option<[usize; 3]> = None;
    let mut pairs = Vec::new();
    for_each_line(reader, source, |number, line| {
        let fields: Vec<&str> = line.split('\t').collect();
        let Some([score_at, s1_at, s2_at]) = columns else {
            columns = Some(header_columns(&fields, source)?);
            return Ok(());
        };
        if line.trim().is_empty() {
            return Ok(());
        }
        let needed = score_at.max(s1_at).max(s2_at) + 1;
        if fields.len() < needed {
            let reason = format!(
                "expected at least {needed} tab-separated fields, found {}",
                fields.len()
            );
            return Err(EvalError::malformed(source, number, reason));
        }
        let score: f64 = fields[score_at].trim().parse().map_err(|_| {
            let reason = format!("score {:?} is not a number", fields[score_at]);
            EvalError::malformed(source, number, reason)
        })?;
        pairs.push(StsPair {
            score,
            sentence1: fields[s1_at].to_string(),
            sentence2: fields[s2_at].to_string(),
        });
        Ok(())
    })?;
    if columns.is_none() {
        return Err(EvalError::malformed(
            source,
            1,
            "empty file, expected a header line",
        ));
    }
    Ok(pairs)
}

/// Cross-lingual pairs from two row-aligned translations of one STS set
/// (STS-B and its German translation): `sentence1` of `first`, `sentence2`
/// of `second`, the gold score both share. A model that maps a German
/// sentence and an English one to the same place scores as well here as on
/// either language alone; an English-only model does not.
///
/// The files must have the same rows with the same scores; the first row
/// that differs is reported with its line in `second_path` (a header line
/// precedes the rows).
pub fn cross_lingual(
    first: &[StsPair],
    first_path: &Path,
    second: &[StsPair],
    second_path: &Path,
) -> Result<Vec<StsPair>, EvalError> {
    if first.len() != second.len() {
        return Err(EvalError::Invalid(format!(
            "{} has {} pairs but {} has {}: not row-aligned translations",
            first_path.display(),
            first.len(),
            second_path.display(),
            second.len()
        )));
    }
    first
        .iter()
        .zip(second)
        .enumerate()
        .map(|(row, (a, b))| {
            if a.score != b.score {
                let reason = format!(
                    "score {} where {} has {} in the same row: not row-aligned translations",
                    b.score,
                    first_path.display(),
                    a.score
                );
                return Err(EvalError::malformed(second_path, row + 2, reason));
            }
            Ok(StsPair {
                score: a.score,
                sentence1: a.sentence1.clone(),
                sentence2: b.sentence2.clone(),
            })
        })
        .collect()
}

/// Positions of the score and the two sentence columns in a header.
fn header_columns(fields: &[&str], source: &Path) -> Result<[usize; 3], EvalError> {
    let find = |name: &str| {
        fields
            .iter()
            .position(|f| f.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| EvalError::MissingColumn {
                path: source.to_path_buf(),
                column: name.to_string(),
            })
    };
    Ok([find("score")?, find("sentence1")?, find("sentence2")?])
}

/// Checks the preconditions shared by both correlations.
fn check_pairs(x: &[f64], y: &[f64]) -> Result<(), EvalError> {
    if x.len() != y.len() {
        return Err(EvalError::Invalid(format!(
            "correlation of sequences of different lengths ({} and {})",
            x.len(),
            y.len()
        )));
    }
    if x.len() < 2 {
        return Err(EvalError::Invalid(format!(
            "correlation needs at least 2 pairs, got {}",
            x.len()
        )));
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(EvalError::Invalid(
            "correlation of non-finite values".into(),
        ));
    }
    Ok(())
}

/// Pearson's correlation coefficient of two equally long sequences.
///
/// Computed from mean-centred values (two passes) so that scores that all
/// lie close together, like cosine similarities of 0.8 ± 0.01, keep their
/// precision. Undefined, hence an error, for a constant sequence.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64, EvalError> {
    check_pairs(x, y)?;
    let n = x.len() as f64;
    let mean_x = x.iter().sum::<f64>() / n;
    let mean_y = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mean_x, b - mean_y);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return Err(EvalError::Invalid(
            "correlation is undefined for a constant sequence".into(),
        ));
    }
    // Clamp the last ulp of rounding so |r| <= 1 always holds.
    Ok((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Spearman's rank correlation: Pearson's on the ranks, tied values
/// sharing the average of their ranks (as `scipy.stats.spearmanr`).
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64, EvalError> {
    check_pairs(x, y)?;
    pearson(&average_ranks(x), &average_ranks(y))
}

/// 1-based ranks in ascending order of value, ties given the mean of the
/// ranks they span (`scipy.stats.rankdata(method="average")`).
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].partial_cmp(&values[b]).unwrap_or(Ordering::Equal));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Ranks start+1 ..= end share their mean.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn reads_columns_by_header_name_without_quoting() {
        let input = "genre\tfilename\tyear\tsid\tscore\tsentence1\tsentence2\n\
                     main-news\tMSRpar\t2012\t1\t2.5\tHe said \"yes.\tShe said no.\textra\n\
                     main-news\tMSRpar\t2012\t2\t4\tA\tB\n";
        let pairs = sts_from_reader(input.as_bytes(), Path::new("sts.tsv")).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].score, 2.5);
        assert_eq!(pairs[0].sentence1, "He said \"yes.");
        assert_eq!(pairs[0].sentence2, "She said no.");
        assert_eq!(pairs[1].score, 4.0);
    }

    #[test]
    fn missing_column_and_short_row_are_errors() {
        let err = sts_from_reader("score\tsentence1\n".as_bytes(), Path::new("s.tsv")).unwrap_err();
        assert_eq!(err.to_string(), "s.tsv:1: header has no column `sentence2`");
        let input = "score\tsentence1\tsentence2\n1\ta\tb\n2\tonly\n";
        let err = sts_from_reader(input.as_bytes(), Path::new("s.tsv")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.tsv:3: expected at least 3 tab-separated fields, found 2"
        );
    }

    #[test]
    fn cross_lingual_pairs_take_one_sentence_from_each_file() {
        let en = "score\tsentence1\tsentence2\n2.5\tA girl\tA child\n4\tA dog\tA puppy\n";
        let de =
            "score\tsentence1\tsentence2\n2.5\tEin Mädchen\tEin Kind\n4\tEin Hund\tEin Welpe\n";
        let (pe, pd) = (Path::new("en.tsv"), Path::new("de.tsv"));
        let en = sts_from_reader(en.as_bytes(), pe).unwrap();
        let de = sts_from_reader(de.as_bytes(), pd).unwrap();
        let x = cross_lingual(&de, pd, &en, pe).unwrap();
        assert_eq!(x[1].sentence1, "Ein Hund");
        assert_eq!(x[1].sentence2, "A puppy");
        assert_eq!(x[1].score, 4.0);

        let mut shuffled = en.clone();
        shuffled.swap(0, 1);
        let err = cross_lingual(&de, pd, &shuffled, pe).unwrap_err();
        assert_eq!(
            err.to_string(),
            "en.tsv:2: score 4 where de.tsv has 2.5 in the same row: not row-aligned translations"
        );
        let err = cross_lingual(&de, pd, &en[..1], pe).unwrap_err();
        assert!(
            err.to_string().contains("has 2 pairs but en.tsv has 1"),
            "{err}"
        );
    }

    #[test]
    fn pearson_of_linear_relation_is_one() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [3.0, 5.0, 7.0, 9.0];
        assert!(close(pearson(&x, &y).unwrap(), 1.0));
        let neg: Vec<f64> = y.iter().map(|v| -v).collect();
        assert!(close(pearson(&x, &neg).unwrap(), -1.0));
    }

    #[test]
    fn pearson_known_value() {
        // numpy.corrcoef([1,2,3,4,5],[2,1,4,3,5])[0,1] = 0.8
        let r = pearson(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 3.0, 5.0]).unwrap();
        assert!(close(r, 0.8));
    }

    #[test]
    fn average_ranks_share_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0]),
            vec![1.5, 3.0, 1.5, 4.0]
        );
        assert_eq!(average_ranks(&[5.0, 5.0, 5.0]), vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn spearman_known_value_with_ties() {
        // scipy.stats.spearmanr([1,2,2,3,4],[1,3,2,2,5]).correlation = 7.25 / 9.5
        let r = spearman(&[1.0, 2.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 2.0, 5.0]).unwrap();
        assert!(close(r, 0.763_157_894_736_842_1), "{r}");
    }

    #[test]
    fn undefined_correlations_are_errors() {
        assert!(pearson(&[1.0], &[1.0]).is_err());
        assert!(pearson(&[1.0, 2.0], &[1.0]).is_err());
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_err());
        assert!(spearman(&[1.0, f64::NAN], &[1.0, 2.0]).is_err());
    }
}
