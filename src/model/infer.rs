//! Scoring one event at a time with plain f32 arithmetic over the model's weights.
//!
//! A user's state is the LSTM's `h` and `c` for every layer (`2 × layers × hidden` floats: 1 KiB
//! at the default 2 × 64), so the cost of an event does not depend on how many came before. The
//! first layer's input projection (embedding × `W_ih` + both biases) is precomputed per input key,
//! which turns a matrix product into a table lookup. Results agree with the candle network to
//! 1e-5 (a test holds them together).

use super::{Model, Weights};

/// The largest hidden size the scorer handles (its scratch lives on the stack).
pub const MAX_HIDDEN: usize = 256;

/// A user's (or session's) recurrent state.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// `[layer][h | c]`, each `hidden` long.
    values: Vec<f32>,
}

impl State {
    /// Bytes of state kept per user.
    pub fn bytes(&self) -> usize {
        self.values.len() * std::mem::size_of::<f32>()
    }

    /// The numbers, to save (see [`Scorer::restore`]).
    pub fn values(&self) -> &[f32] {
        &self.values
    }
}

/// The f32 scorer of a model.
#[derive(Debug, Clone)]
pub struct Scorer {
    weights: Weights,
    /// `[inputs, 4H]`: layer 0's input projection plus both biases, per input index.
    first: Vec<f32>,
    /// Per layer above 0: `b_ih + b_hh`.
    biases: Vec<Vec<f32>>,
    inputs: usize,
    outputs: usize,
    /// The CPU has AVX2 and FMA: use the step compiled for them.
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
}

/// Dot product with several accumulators, so that the compiler can use vector registers.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

/// `e^x` to about 2e-7 relative error (Cephes' polynomial), branch-free so that loops over a
/// layer's gates vectorise; libm's `expf`/`tanhf` were two thirds of the scoring time.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by adding and subtracting 1.5 × 2^23: no libm call, so it vectorises.
    const MAGIC: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + MAGIC) - MAGIC;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (1.0 + exp(2.0 * x))
}

impl Scorer {
    /// A scorer for `model`'s weights.
    pub fn new(model: &Model) -> Self {
        let w = model.weights.clone();
        let (e, h) = (w.config.embed, w.config.hidden);
        let inputs = model.vocab.inputs();
        let outputs = model.vocab.outputs();
        let l0 = &w.layers[0];
        let mut first = vec![0f32; inputs * 4 * h];
        for t in 0..inputs {
            let x = &w.embed[t * e..(t + 1) * e];
            for r in 0..4 * h {
                first[t * 4 * h + r] =
                    dot(&l0.w_ih[r * e..(r + 1) * e], x) + l0.b_ih[r] + l0.b_hh[r];
            }
        }
        let biases = w
            .layers
            .iter()
            .map(|l| l.b_ih.iter().zip(&l.b_hh).map(|(a, b)| a + b).collect())
            .collect();
        Self {
            weights: w,
            first,
            biases,
            inputs,
            outputs,
            #[cfg(target_arch = "x86_64")]
            avx2: std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"),
        }
    }

    /// Output classes (vocabulary + unknown).
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// The state before any input.
    pub fn zero(&self) -> State {
        let c = self.weights.config;
        State {
            values: vec![0.0; 2 * c.layers * c.hidden],
        }
    }

    /// A state from [`State::values`] saved earlier; `None` when its size is not this model's.
    pub fn restore(&self, values: &[f32]) -> Option<State> {
        let c = self.weights.config;
        (values.len() == 2 * c.layers * c.hidden && values.iter().all(|v| v.is_finite())).then(
            || State {
                values: values.to_vec(),
            },
        )
    }

    /// Feeds input index `input` (see [`super::Vocabulary`]) into `state`.
    pub fn step(&self, state: &mut State, input: usize) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is true only when the CPU reported AVX2 and FMA at construction.
            unsafe { self.step_avx2(state, input) };
            return;
        }
        self.step_portable(state, input);
    }

    /// The same step compiled for AVX2 and FMA: eight lanes for the dot products and the
    /// activations, about twice the speed of the SSE2 baseline.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn step_avx2(&self, state: &mut State, input: usize) {
        self.step_portable(state, input);
    }

    #[inline(always)]
    fn step_portable(&self, state: &mut State, input: usize) {
        // Scratch on the stack, no allocation per event; sized to the model so that zeroing it
        // does not cost more than the step (hidden ≤ MAX_HIDDEN, checked at load).
        match self.weights.config.hidden {
            0..=32 => self.step_with::<32>(state, input),
            33..=64 => self.step_with::<64>(state, input),
            _ => self.step_with::<MAX_HIDDEN>(state, input),
        }
    }

    #[inline(always)]
    fn step_with<const N: usize>(&self, state: &mut State, input: usize) {
        let h = self.weights.config.hidden;
        let input = input.min(self.inputs - 1);
        let mut gates_buf = [[0f32; N]; 4];
        let mut below_buf = [0f32; N];
        let gates = &mut gates_buf.as_flattened_mut()[..4 * h];
        let below = &mut below_buf[..h];
        for (l, layer) in self.weights.layers.iter().enumerate() {
            let (hs, rest) = state.values[l * 2 * h..(l + 1) * 2 * h].split_at_mut(h);
            let cs = rest;
            if l == 0 {
                gates.copy_from_slice(&self.first[input * 4 * h..(input + 1) * 4 * h]);
            } else {
                for (r, g) in gates.iter_mut().enumerate() {
                    *g = dot(&layer.w_ih[r * h..(r + 1) * h], below) + self.biases[l][r];
                }
            }
            for (r, g) in gates.iter_mut().enumerate() {
                *g += dot(&layer.w_hh[r * h..(r + 1) * h], hs);
            }
            // Activations gate block by gate block: simple loops the compiler vectorises.
            let (ifg, o) = gates.split_at_mut(3 * h);
            let (i_f, g) = ifg.split_at_mut(2 * h);
            i_f.iter_mut().for_each(|x| *x = sigmoid(*x));
            g.iter_mut().for_each(|x| *x = tanh(*x));
            o.iter_mut().for_each(|x| *x = sigmoid(*x));
            for j in 0..h {
                cs[j] = i_f[h + j] * cs[j] + i_f[j] * g[j];
            }
            for j in 0..h {
                hs[j] = o[j] * tanh(cs[j]);
            }
            below.copy_from_slice(hs);
        }
    }

    /// The probabilities of each output class (vocabulary index) for the next key, given
    /// `state`, written into `probs` (`outputs` long).
    pub fn predict(&self, state: &State, probs: &mut [f32]) {
        let c = self.weights.config;
        let h = c.hidden;
        let top = &state.values[(c.layers - 1) * 2 * h..(c.layers - 1) * 2 * h + h];
        let mut max = f32::NEG_INFINITY;
        for (k, p) in probs.iter_mut().enumerate().take(self.outputs) {
            *p = dot(&self.weights.out_w[k * h..(k + 1) * h], top) + self.weights.out_b[k];
            max = max.max(*p);
        }
        let mut sum = 0.0;
        for p in probs.iter_mut().take(self.outputs) {
            *p = exp(*p - max);
            sum += *p;
        }
        for p in probs.iter_mut().take(self.outputs) {
            *p /= sum;
        }
    }

    /// The logits of the next key given `state` (for comparing with candle).
    pub fn logits(&self, state: &State) -> Vec<f32> {
        let c = self.weights.config;
        let h = c.hidden;
        let top = &state.values[(c.layers - 1) * 2 * h..(c.layers - 1) * 2 * h + h];
        (0..self.outputs)
            .map(|k| dot(&self.weights.out_w[k * h..(k + 1) * h], top) + self.weights.out_b[k])
            .collect()
    }
}

/// How many classes have a higher probability than class `i`: 0 for the most likely.
pub fn rank(probs: &[f32], i: usize) -> usize {
    let p = probs[i];
    probs.iter().filter(|q| **q > p).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use crate::model::net::Net;
    use candle_core::{Device, Tensor};

    fn random_model(layers: usize) -> Model {
        let config = ModelConfig {
            embed: 8,
            hidden: 12,
            layers,
        };
        crate::model::random_model(vec![3, 5, 7, 11, 13], config, 1)
    }

    #[test]
    fn f32_path_agrees_with_candle() {
        for layers in [1, 2] {
            let model = random_model(layers);
            let net = Net::from_weights(&model.weights).unwrap();
            let seq: Vec<u32> = vec![6, 1, 2, 5, 0, 3, 3, 4];
            let input = Tensor::from_vec(seq.clone(), (1, seq.len()), &Device::Cpu).unwrap();
            let logits = net
                .forward(&input)
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            let scorer = Scorer::new(&model);
            let mut state = scorer.zero();
            for (t, &x) in seq.iter().enumerate() {
                scorer.step(&mut state, x as usize);
                let ours = scorer.logits(&state);
                for (a, b) in ours.iter().zip(&logits[t]) {
                    assert!((a - b).abs() < 1e-5, "layers {layers} step {t}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn fast_exp_is_close_to_libm() {
        // Inside the clamp; beyond it the result is the clamp's value, as libm's is 0 or inf.
        let mut x = -86.0f32;
        while x < 88.0 {
            let (a, b) = (exp(x), x.exp());
            assert!(
                (a - b).abs() <= 3e-7 * b.max(f32::MIN_POSITIVE),
                "{x}: {a} vs {b}"
            );
            assert!((tanh(x / 8.0) - (x / 8.0).tanh()).abs() < 2e-7, "{x}");
            x += 0.01;
        }
    }

    #[test]
    fn state_is_one_kib_at_the_default_size() {
        let model = crate::model::random_model(vec![1, 2], ModelConfig::default(), 1);
        assert_eq!(Scorer::new(&model).zero().bytes(), 1024);
    }

    #[test]
    fn probabilities_sum_to_one_and_rank_orders_them() {
        let model = random_model(2);
        let scorer = Scorer::new(&model);
        let mut state = scorer.zero();
        scorer.step(&mut state, model.vocab.start());
        let mut probs = vec![0.0; scorer.outputs()];
        scorer.predict(&state, &mut probs);
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let best = (0..probs.len())
            .max_by(|a, b| probs[*a].total_cmp(&probs[*b]))
            .unwrap();
        assert_eq!(rank(&probs, best), 0);
    }
}
