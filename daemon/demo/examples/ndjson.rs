//! Prints demo events as NDJSON: `cargo run -p vigil-demo --example ndjson -- [events] [seed]`.

use std::io::{BufWriter, Write};

use vigil_demo::{DemoConfig, DemoGenerator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(Ok(20), |a| a.parse())?;
    let seed: u64 = args
        .next()
        .map_or(Ok(DemoConfig::default().seed), |a| a.parse())?;
    let generator = DemoGenerator::new(DemoConfig {
        seed,
        ..DemoConfig::default()
    })?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for event in generator.take(count) {
        serde_json::to_writer(&mut out, &event)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
