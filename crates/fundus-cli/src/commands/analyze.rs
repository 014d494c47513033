//! `fundus analyze`: diagnostics on a collection's vectors.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Subcommand;

use fundus_core::distance;
use fundus_eval::histogram::Histogram;
use fundus_eval::plot::histogram_svg;
use fundus_eval::similarity::SimilarityStats;
use fundus_index::FlatIndex;

use crate::context::Context;

#[derive(Subcommand)]
pub enum AnalyzeCommand {
    /// Distribution of similarities between the vectors of a collection.
    ///
    /// Two views: similarity of random pairs (how spread out the space is;
    /// a model whose random pairs all score 0.8 separates poorly), and each
    /// vector's similarity to its nearest neighbour (near-duplicates above
    /// 0.95 are candidates for deduplication). Writes an SVG histogram.
    #[command(
        after_help = "Example:\n  fundus analyze similarity --collection products --output products-similarity.svg"
    )]
    Similarity {
        /// Collection to analyze.
        #[arg(long, short)]
        collection: String,
        /// Random pairs to sample (all pairs when the collection is small enough).
        #[arg(long, default_value_t = 200_000)]
        pairs: usize,
        /// Nearest-neighbour similarity is computed for at most this many vectors.
        #[arg(long, default_value_t = 5_000)]
        neighbours: usize,
        /// Similarity above which two vectors count as near-duplicates.
        #[arg(long, default_value_t = 0.95)]
        duplicate_threshold: f64,
        /// Histogram bins.
        #[arg(long, default_value_t = 40)]
        bins: usize,
        /// Where to write the histogram [default: <collection>-similarity.svg].
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Seed of the pair sampler, for repeatable numbers.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// xorshift64*: enough randomness to sample pairs, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

pub fn run(ctx: &Context, cmd: AnalyzeCommand) -> Result<()> {
    let AnalyzeCommand::Similarity {
        collection,
        pairs,
        neighbours,
        duplicate_threshold,
        bins,
        output,
        seed,
    } = cmd;
    let c = ctx.data.open(&collection)?;
    // Live rows only: replaced and deleted points are tombstones.
    let rows: Vec<usize> = c.points().map(|(row, _)| row).collect();
    let n = rows.len();
    if n < 2 {
        bail!("collection {collection:?} has {n} vectors; similarity needs at least 2");
    }
    let cosine = |i: usize, j: usize| distance::cosine(c.vector(rows[i]), c.vector(rows[j])) as f64;

    // Random pairs, or all of them when there are fewer than asked for.
    let all_pairs = n * (n - 1) / 2;
    let mut pair_sims = Vec::with_capacity(all_pairs.min(pairs));
    if all_pairs <= pairs {
        for i in 0..n {
            for j in i + 1..n {
                pair_sims.push(cosine(i, j));
            }
        }
    } else {
        let mut rng = Rng(seed.max(1));
        while pair_sims.len() < pairs {
            let (i, j) = (rng.below(n), rng.below(n));
            if i != j {
                pair_sims.push(cosine(i, j));
            }
        }
    }
    let pair_stats = SimilarityStats::compute(pair_sims.iter().copied())?;

    // Nearest neighbour of (a sample of) the vectors.
    let mut index = FlatIndex::new(c.config().dim, fundus_core::Metric::Cosine);
    for &row in &rows {
        index.add(c.vector(row))?;
    }
    let step = n.div_ceil(neighbours.max(1));
    let mut nn_sims = Vec::new();
    for i in (0..n).step_by(step) {
        let hits = index.search(c.vector(rows[i]), 2)?;
        if let Some((_, s)) = hits.into_iter().find(|(row, _)| *row as usize != i) {
            nn_sims.push(s as f64);
        }
    }
    let nn_stats = SimilarityStats::compute(nn_sims.iter().copied())?;
    let dup_share =
        nn_sims.iter().filter(|&&s| s > duplicate_threshold).count() as f64 / nn_sims.len() as f64;
    let dup_pairs = pair_sims
        .iter()
        .filter(|&&s| s > duplicate_threshold)
        .count() as f64
        / pair_sims.len() as f64;

    println!(
        "collection {collection:?}: {n} vectors ({} documents), model {}",
        c.documents(),
        c.config().model.name
    );
    println!(
        "{:<26}{:>9}{:>9}{:>9}{:>9}{:>9}",
        "", "min", "max", "mean", "std", "median"
    );
    for (name, s) in [
        (format!("random pairs ({})", pair_stats.count), &pair_stats),
        (format!("nearest neighbour ({})", nn_stats.count), &nn_stats),
    ] {
        println!(
            "{name:<26}{:>9.4}{:>9.4}{:>9.4}{:>9.4}{:>9.4}",
            s.min,
            s.max,
            s.mean,
            s.std,
            s.percentile(50.0).unwrap_or(f64::NAN)
        );
    }
    println!(
        "near-duplicates (> {duplicate_threshold}): {:.2}% of vectors have one; {:.4}% of random pairs",
        dup_share * 100.0,
        dup_pairs * 100.0
    );

    let hist = Histogram::new(pair_sims.iter().copied(), bins, (-1.0, 1.0))?;
    let svg = histogram_svg(
        &hist,
        &format!(
            "Cosine similarity of random pairs — {collection} ({})",
            c.config().model.name
        ),
    );
    let out = output.unwrap_or_else(|| PathBuf::from(format!("{collection}-similarity.svg")));
    std::fs::write(&out, svg)?;
    println!("histogram: {}", out.display());
    Ok(())
}
