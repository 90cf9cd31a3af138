//! Fits the batch One-Class SVM on the first 5,000 normal rows of ODDS http
//! (standard-scaled, nu 0.1, gamma "scale", tol 1e-3) and prints the fit time, the model and
//! the process's peak resident memory (`VmHWM` from `/proc/self/status`).
//!
//! `cargo run --release -p vigil-detectors --example ocsvm_fit_memory [-- CACHE_MB]`

use vigil_detectors_bench::odds_http;

use std::time::Instant;

use vigil_detectors::ocsvm::batch::{BatchOcsvmConfig, Gamma, ScaledBatchOcsvm};

const TRAIN_ROWS: usize = 5_000;

/// Peak resident set size in KiB, from `/proc/self/status` (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = BatchOcsvmConfig {
        nu: 0.1,
        gamma: Gamma::Scale,
        tol: 1e-3,
        ..BatchOcsvmConfig::default()
    };
    if let Some(cache_mb) = std::env::args().nth(1) {
        config.cache_mb = cache_mb.parse()?;
    }
    let rows = odds_http::first_normal_rows(TRAIN_ROWS)?;
    let before = peak_rss_kib();
    let start = Instant::now();
    let model = ScaledBatchOcsvm::fit(&rows, odds_http::DIM, &config)?;
    let elapsed = start.elapsed();
    let inner = model.model();
    let summary = model.fit_summary().ok_or("the model is fitted")?;
    println!("training rows       {}", summary.n_train);
    println!("cache_mb            {}", config.cache_mb);
    println!("fit time            {:.1} ms", elapsed.as_secs_f64() * 1e3);
    println!(
        "iterations          {} (converged: {})",
        summary.iterations, summary.converged
    );
    println!("gamma               {}", inner.gamma().unwrap_or(f64::NAN));
    println!("rho                 {}", inner.rho().unwrap_or(f64::NAN));
    println!("support vectors     {}", inner.n_support());
    match (before, peak_rss_kib()) {
        (Some(b), Some(after)) => {
            println!("peak RSS before fit {:.1} MB", b as f64 / 1024.0);
            println!("peak RSS (VmHWM)    {:.1} MB", after as f64 / 1024.0);
        }
        _ => println!("peak RSS            unavailable (no /proc/self/status)"),
    }
    Ok(())
}
