//! Scoring keys one at a time with the f32 scorer at `eval cert`'s model shape
//! (`dante::eval::cert::MODEL`, one LSTM layer of 32 unless told; `--vocab` keys, about what
//! the model of a simulated set knows): `surprise` and `step` per key, as `eval cert` does, over
//! days of 143 keys (the simulated sets' mean). Random weights: the cost does not depend on
//! them. Prints the median of `--runs` in keys per second.
//!
//! Usage: cargo bench --bench cert_score -- [--keys N] [--runs K] [--vocab V] [--hidden H]
//! [--layers L]

use dante::model::infer::Scorer;
use dante::model::{ModelConfig, SplitMix, random_model};
use std::time::Instant;

fn main() {
    let shape = dante::eval::cert::MODEL;
    let (mut keys, mut runs, mut vocab) = (2_000_000usize, 5usize, 90usize);
    let (mut hidden, mut layers) = (shape.hidden, shape.layers);
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut num = || it.next().and_then(|v| v.parse().ok()).expect("a number");
        match k.as_str() {
            "--keys" => keys = num(),
            "--runs" => runs = num(),
            "--vocab" => vocab = num(),
            "--hidden" => hidden = num(),
            "--layers" => layers = num(),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    let config = ModelConfig {
        hidden,
        layers,
        ..shape
    };
    let h = config.hidden;
    let model = random_model((1..=vocab as u32).collect(), config, 7);
    let scorer = Scorer::new(&model);
    let mut rng = SplitMix::new(11);
    let input: Vec<usize> = (0..keys).map(|_| 1 + rng.below(vocab)).collect();
    let mut rates = Vec::new();
    let mut check = 0f64;
    for _ in 0..runs {
        let mut logits = vec![0f32; scorer.outputs()];
        let t = Instant::now();
        for day in input.chunks(143) {
            let mut state = scorer.zero();
            scorer.step(&mut state, 0);
            for &k in day {
                check += scorer.surprise(&state, k, &mut logits);
                scorer.step(&mut state, k);
            }
        }
        rates.push(keys as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let runs: Vec<String> = rates.iter().map(|r| format!("{:.0}k", r / 1e3)).collect();
    println!(
        "{keys} keys, {layers} layer(s) of {h}, {vocab} keys in the vocabulary: median {:.0} keys/s (runs {}; checksum {check:.6})",
        rates[rates.len() / 2],
        runs.join(" ")
    );
}
