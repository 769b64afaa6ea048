//! Parameter values (DeepLog's second model), in a form small enough for the edge.
//!
//! For each key, each numeric parameter of its template (and the time since the user's previous
//! event, `dt`) gets a robust centre and spread: the median and the MAD of `sign(v)·ln(1 + |v|)`,
//! which tames durations and sizes that span orders of magnitude. An event's error is its largest
//! robust z-score; the threshold is the quantile of the validation errors that flags the target
//! share of them (never below 3). A flagged event names the parameter that was off, its value and
//! the range the model expected. DeepLog fits an LSTM per key over the value vectors; per-key
//! robust statistics cost a few bytes per parameter and nothing per event beyond a subtraction.

use crate::keys::KeyId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Keys seen fewer times than this get no value model.
pub const MIN_SAMPLES: usize = 10;
/// The threshold never goes below this many robust standard deviations.
pub const MIN_THRESHOLD: f64 = 3.0;

/// One parameter's learned centre and spread (on the log scale).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dim {
    /// `dt` for the time since the previous event, `p1`, `p2`… for the template's numbers.
    pub name: String,
    /// Median of the transformed values.
    pub median: f64,
    /// Robust standard deviation (1.4826 × MAD) of the transformed values, floored; 0 when the
    /// parameter was too rarely a number to model.
    pub scale: f64,
}

/// The value model of one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyParams {
    /// One per position of the value vector.
    pub dims: Vec<Dim>,
}

/// The value models of all keys and the shared threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamModel {
    /// Per key.
    pub keys: BTreeMap<KeyId, KeyParams>,
    /// Largest robust z-score that passes.
    pub threshold: f64,
}

/// A value vector outside what the model learned.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamAnomaly {
    /// The parameter that was off (`dt`, `p1`…).
    pub name: String,
    /// Its value.
    pub value: f64,
    /// The range of values that would have passed, in the original units.
    pub expected: (f64, f64),
    /// Its robust z-score.
    pub z: f64,
}

fn squash(v: f64) -> f64 {
    v.signum() * v.abs().ln_1p()
}

fn unsquash(t: f64) -> f64 {
    t.signum() * t.abs().exp_m1()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// An event's value vector: the seconds since its user's previous event (`dt`, NaN when
/// unknown), then each parameter of its template, as a number when it is one (numbers, durations
/// and sizes by their digits) and NaN otherwise.
pub fn values(dt: Option<f64>, params: &[crate::event::Param]) -> Vec<f64> {
    use crate::event::ParamKind;
    let mut v = Vec::with_capacity(params.len() + 1);
    v.push(dt.unwrap_or(f64::NAN));
    for p in params {
        let x = match p.kind {
            ParamKind::Number | ParamKind::Duration | ParamKind::Size => {
                let digits: String = p
                    .value
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))
                    .collect();
                digits.parse().unwrap_or(f64::NAN)
            }
            _ => f64::NAN,
        };
        v.push(x);
    }
    v
}

/// The name of position `i` of a value vector whose first entry is the time since the previous
/// event.
pub fn dim_name(i: usize) -> String {
    if i == 0 {
        "dt".to_string()
    } else {
        format!("p{i}")
    }
}

impl ParamModel {
    /// Learns from `(key, values)` samples (NaN = missing), and sets the threshold so that at most
    /// `target` of the `validation` samples are flagged.
    pub fn fit(
        samples: &[(KeyId, Vec<f64>)],
        validation: &[(KeyId, Vec<f64>)],
        target: f64,
    ) -> Self {
        let mut by_key: BTreeMap<KeyId, Vec<&Vec<f64>>> = BTreeMap::new();
        for (k, v) in samples {
            by_key.entry(*k).or_default().push(v);
        }
        let mut keys = BTreeMap::new();
        for (k, rows) in by_key {
            if rows.len() < MIN_SAMPLES {
                continue;
            }
            let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
            let mut dims = Vec::new();
            for i in 0..width {
                let mut col: Vec<f64> = rows
                    .iter()
                    .filter_map(|r| r.get(i).copied())
                    .filter(|x| x.is_finite())
                    .map(squash)
                    .collect();
                if col.len() < MIN_SAMPLES {
                    // Too few numbers here to learn from: a scale of 0 means "no model" (and
                    // stays representable in JSON, unlike NaN).
                    dims.push(Dim {
                        name: dim_name(i),
                        median: 0.0,
                        scale: 0.0,
                    });
                    continue;
                }
                let m = median(&mut col);
                let mut dev: Vec<f64> = col.iter().map(|x| (x - m).abs()).collect();
                // A constant parameter still gets some room: a tenth of a log unit.
                let scale = (1.4826 * median(&mut dev)).max(0.1);
                dims.push(Dim {
                    name: dim_name(i),
                    median: m,
                    scale,
                });
            }
            keys.insert(k, KeyParams { dims });
        }
        let mut model = Self {
            keys,
            threshold: f64::INFINITY,
        };
        let mut errors: Vec<f64> = validation
            .iter()
            .filter_map(|(k, v)| model.error(*k, v).map(|(_, z)| z))
            .collect();
        errors.sort_by(|a, b| b.total_cmp(a));
        let allowed = (target * errors.len() as f64).floor() as usize;
        model.threshold = errors
            .get(allowed)
            .copied()
            .unwrap_or(MIN_THRESHOLD * 2.0)
            .max(MIN_THRESHOLD);
        model
    }

    /// The largest robust z-score of `values` under `key`'s model and the position it is at, or
    /// `None` when the key has no model.
    fn error(&self, key: KeyId, values: &[f64]) -> Option<(usize, f64)> {
        let kp = self.keys.get(&key)?;
        kp.dims
            .iter()
            .zip(values)
            .enumerate()
            .filter(|(_, (d, v))| d.scale > 0.0 && v.is_finite())
            .map(|(i, (d, v))| (i, (squash(*v) - d.median).abs() / d.scale))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Checks an event's value vector; `Some` names the parameter that was off.
    pub fn check(&self, key: KeyId, values: &[f64]) -> Option<ParamAnomaly> {
        let (i, z) = self.error(key, values)?;
        if z <= self.threshold {
            return None;
        }
        let d = &self.keys[&key].dims[i];
        let span = self.threshold * d.scale;
        Some(ParamAnomaly {
            name: d.name.clone(),
            value: values[i],
            expected: (unsquash(d.median - span), unsquash(d.median + span)),
            z,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SplitMix;

    fn samples(n: usize, seed: u64) -> Vec<(KeyId, Vec<f64>)> {
        let mut rng = SplitMix::new(seed);
        (0..n)
            .map(|_| {
                // Key 1: a transfer of ~1 MB that takes ~2 s; key 2: a port number, no time.
                let mb = 1_000_000.0 * (1.0 + rng.uniform(0.3) as f64);
                let secs = 2.0 + rng.uniform(1.0) as f64;
                if rng.below(2) == 0 {
                    (1, vec![secs, mb])
                } else {
                    (2, vec![f64::NAN, 22.0])
                }
            })
            .collect()
    }

    #[test]
    fn learns_ranges_and_names_the_parameter_that_is_off() {
        let m = ParamModel::fit(&samples(2000, 1), &samples(500, 2), 0.01);
        assert!(m.threshold >= MIN_THRESHOLD);
        assert!(m.check(1, &[2.5, 1_100_000.0]).is_none());
        let a = m
            .check(1, &[2.5, 900_000_000.0])
            .expect("a 900 MB transfer is off");
        assert_eq!(a.name, "p1");
        assert!(
            a.expected.0 < 1_000_000.0 && a.expected.1 > 1_000_000.0,
            "{a:?}"
        );
        let a = m
            .check(1, &[3600.0, 1_000_000.0])
            .expect("an hour's gap is off");
        assert_eq!(a.name, "dt");
        assert!(m.check(2, &[f64::NAN, 22.0]).is_none());
        assert!(m.check(2, &[f64::NAN, 4444.0]).is_some());
        // A key never seen, or seen too rarely, has no value model.
        assert!(m.check(9, &[1e12]).is_none());
    }

    #[test]
    fn survives_json() {
        let mut data = samples(200, 1);
        data.push((3, vec![f64::NAN, 1.0]));
        let m = ParamModel::fit(&data, &samples(50, 2), 0.01);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<ParamModel>(&json).unwrap(), m);
    }

    #[test]
    fn validation_sets_the_false_positive_share() {
        let m = ParamModel::fit(&samples(2000, 1), &samples(2000, 3), 0.02);
        let flagged = samples(2000, 4)
            .iter()
            .filter(|(k, v)| m.check(*k, v).is_some())
            .count();
        assert!(flagged <= 100, "{flagged} of 2000 flagged for a 2% target");
    }
}
