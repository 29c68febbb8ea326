//! The arguments of `celprint serve` and `celprint token` (docs/serve.md).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use celprint::engine::{IndexOptions, InputFormat, Prune, ScanOptions};
use celprint::model::Label;

use super::{scan_options, DbArg, LimitArgs, MatchArgs, SamplingArgs};

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Address to listen on. TLS is left to a reverse proxy (docs/serve.md); keep this
    /// on loopback unless the network itself is trusted.
    #[arg(long, default_value = "127.0.0.1:8470")]
    pub listen: std::net::SocketAddr,
    /// A server-side folder that `POST /v1/scans {"path"}` may scan under (repeat for
    /// several). Without one, only uploads can be scanned.
    #[arg(long, value_name = "DIR")]
    pub scan_root: Vec<PathBuf>,
    /// Where uploads are kept, one folder per job [default: DB/uploads].
    #[arg(long, value_name = "DIR")]
    pub uploads: Option<PathBuf>,
    /// Largest request, all files together, in MiB.
    #[arg(long, default_value_t = 2048, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub max_upload_mib: u64,
    /// Most files in one request.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_files: u64,
    #[command(flatten)]
    pub matching: MatchArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// As for `scan`.
    #[arg(long)]
    pub no_insets: bool,
    /// As for `scan`.
    #[arg(long)]
    pub no_local_features: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

impl ServeArgs {
    /// What `celprint scan` would use with the same options.
    pub fn scan_options(&self) -> ScanOptions {
        scan_options(
            &self.matching,
            &self.sampling,
            &self.limits,
            !self.no_insets,
            !self.no_local_features,
        )
    }

    /// What `celprint index` would use; label, source, note and who are per upload.
    pub fn index_options(&self) -> IndexOptions {
        IndexOptions {
            label: Label::Leaked,
            source: None,
            note: None,
            by: None,
            limits: self.limits.limits(),
            sampling: self.sampling.sampling(),
            format: InputFormat::Media,
            prune: Prune::Keep,
            archives: Default::default(),
            shard: None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it, alone on stdout, once: the bank keeps only its hash.
    Add(TokenAddArgs),
    /// List the tokens (names, roles, when made, by whom, revoked or not).
    List(TokenListArgs),
    /// Revoke a token: from the next request on, it gets 401.
    Revoke(TokenNameArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Hash, look up, scan, read reports and the audit trail.
    Scanner,
    /// Also confirm or dismiss matches.
    Reviewer,
    /// Also add and remove assets and manage tokens.
    Admin,
}

#[derive(Debug, Args)]
pub struct TokenAddArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// A name for the token's holder (a person or a tool); never reused.
    #[arg(long)]
    pub name: String,
    #[arg(long, value_enum)]
    pub role: RoleArg,
}

#[derive(Debug, Args)]
pub struct TokenListArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TokenNameArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[arg(long)]
    pub name: String,
}
