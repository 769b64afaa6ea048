//! Scoring one event at a time with plain f32 arithmetic over the model's weights.
//!
//! A user's state is the LSTM's `h` and `c` for every layer (`2 × layers × hidden` floats: 1 KiB
//! at the default 2 × 64), so the cost of an event does not depend on how many came before.
//! Between events the agent keeps it at half precision ([`Scorer::narrow`], [`Scorer::widen`]):
//! 256 bytes for the bundled 2 × 32 model. The
//! first layer's input projection (embedding × `W_ih` + both biases) is precomputed per input key,
//! which turns a matrix product into a table lookup. Results agree with the candle network to
//! 1e-5 (a test holds them together).

use super::Model;

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

/// A matrix stored for `out += W x` one input at a time: column by column, in blocks of
/// [`BLOCK`] rows (`[block][column][BLOCK]`, the last block padded with zeros). A block's sums
/// stay in vector registers while the columns stream past, instead of one horizontal sum per
/// row as a row-major dot product needs.
#[derive(Debug, Clone)]
struct Packed {
    rows: usize,
    cols: usize,
    w: Vec<f32>,
}

/// Rows per block: four 8-lane vectors.
const BLOCK: usize = 32;

impl Packed {
    /// From a row-major `[rows, cols]` matrix.
    fn new(m: &[f32], rows: usize, cols: usize) -> Self {
        Self::concat(&[(m, cols)], rows)
    }

    /// From row-major matrices of the same rows side by side (`[A | B]`), as `(values, cols)`.
    fn concat(parts: &[(&[f32], usize)], rows: usize) -> Self {
        let cols: usize = parts.iter().map(|p| p.1).sum();
        let blocks = rows.div_ceil(BLOCK);
        let mut w = vec![0f32; blocks * cols * BLOCK];
        for r in 0..rows {
            let (b, lane) = (r / BLOCK, r % BLOCK);
            let mut c = 0;
            for (m, n) in parts {
                for j in 0..*n {
                    w[(b * cols + c) * BLOCK + lane] = m[r * n + j];
                    c += 1;
                }
            }
        }
        Self { rows, cols, w }
    }

    /// `out = init + W x` (`x`: `cols` long, `init` and `out`: `rows` long).
    ///
    /// A full block goes through fixed-size arrays: slices of a length known only at run time
    /// were calls to `memmove`, a tenth of the scoring time.
    #[inline(always)]
    fn mul_add<const FMA: bool>(&self, init: &[f32], x: &[f32], out: &mut [f32]) {
        let x = &x[..self.cols];
        for (b, block) in self.w.chunks_exact(self.cols * BLOCK).enumerate() {
            let rows = b * BLOCK..self.rows.min((b + 1) * BLOCK);
            let (init, out) = (&init[rows.clone()], &mut out[rows]);
            if let (Ok(init), Ok(out)) = (
                <&[f32; BLOCK]>::try_from(init),
                <&mut [f32; BLOCK]>::try_from(&mut *out),
            ) {
                *out = Self::block::<FMA>(block, x, *init);
            } else {
                let mut acc = [0f32; BLOCK];
                acc[..init.len()].copy_from_slice(init);
                let acc = Self::block::<FMA>(block, x, acc);
                out.copy_from_slice(&acc[..out.len()]);
            }
        }
    }

    /// One block's sums: `acc + W_block x`.
    #[inline(always)]
    fn block<const FMA: bool>(block: &[f32], x: &[f32], mut acc: [f32; BLOCK]) -> [f32; BLOCK] {
        for (col, &xj) in block.chunks_exact(BLOCK).zip(x) {
            for k in 0..BLOCK {
                acc[k] = madd::<FMA>(col[k], xj, acc[k]);
            }
        }
        acc
    }
}

/// `a × b + c`, fused where the CPU has FMA (elsewhere `mul_add` would be a libm call).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// The f32 scorer of a model.
#[derive(Debug, Clone)]
pub struct Scorer {
    config: super::ModelConfig,
    /// `[inputs, 4H]`: layer 0's input projection plus both biases, per input index.
    first: Vec<f32>,
    /// Per layer: `[W_ih | W_hh]` over the input `[below | h]` (layer 0: `W_hh` over `h`, its
    /// input part is in `first`).
    gates: Vec<Packed>,
    /// Per layer above 0: `b_ih + b_hh`.
    biases: Vec<Vec<f32>>,
    out_w: Packed,
    out_b: Vec<f32>,
    inputs: usize,
    outputs: usize,
    /// The CPU has AVX2, FMA and F16C: use the code compiled for them.
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

/// The largest of `v`, eight lanes at a time: a plain fold is one serial chain.
#[inline(always)]
fn lanes_max(v: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            m[k] = m[k].max(c[k]);
        }
    }
    rest.iter()
        .chain(&m)
        .fold(f32::NEG_INFINITY, |a, b| a.max(*b))
}

/// The sum of `v`, eight lanes at a time (see [`lanes_max`]).
#[inline(always)]
fn lanes_sum(v: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// `e^x` to about 2e-7 relative error (Cephes' polynomial), branch-free so that loops over a
/// layer's gates vectorise; libm's `expf`/`tanhf` were two thirds of the scoring time.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by adding and subtracting 1.5 × 2^23: no libm call, so it vectorises.
    const MAGIC: f32 = 12_582_912.0;
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
    let y = p * r * r + r + 1.0;
    // `2^n` from `t`'s bits, whose low mantissa bits hold `n` (its ulp is 1): integer lanes,
    // where `n as i32` (a saturating conversion) was done one lane at a time.
    let biased = t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127);
    y * f32::from_bits(biased << 23)
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
        let w = &model.weights;
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
        let gates = w
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                if l == 0 {
                    Packed::new(&layer.w_hh, 4 * h, h)
                } else {
                    Packed::concat(&[(&layer.w_ih, h), (&layer.w_hh, h)], 4 * h)
                }
            })
            .collect();
        let biases = w
            .layers
            .iter()
            .map(|l| l.b_ih.iter().zip(&l.b_hh).map(|(a, b)| a + b).collect())
            .collect();
        Self {
            config: w.config,
            first,
            gates,
            biases,
            out_w: Packed::new(&w.out_w, outputs, h),
            out_b: w.out_b.clone(),
            inputs,
            outputs,
            #[cfg(target_arch = "x86_64")]
            avx2: std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("fma")
                && std::is_x86_feature_detected!("f16c"),
        }
    }

    /// Output classes (vocabulary + unknown).
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// The numbers in a state: `2 × layers × hidden`.
    pub fn state_len(&self) -> usize {
        2 * self.config.layers * self.config.hidden
    }

    /// The state before any input.
    pub fn zero(&self) -> State {
        State {
            values: vec![0.0; self.state_len()],
        }
    }

    /// A state from [`State::values`] saved earlier; `None` when its size is not this model's.
    pub fn restore(&self, values: &[f32]) -> Option<State> {
        (values.len() == self.state_len() && values.iter().all(|v| v.is_finite())).then(|| State {
            values: values.to_vec(),
        })
    }

    /// Feeds input index `input` (see [`super::Vocabulary`]) into `state`.
    pub fn step(&self, state: &mut State, input: usize) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is true only when the CPU reported AVX2, FMA and F16C.
            unsafe { self.step_avx2(state, input) };
            return;
        }
        self.step_sized::<false>(state, input);
    }

    /// The same step compiled for AVX2 and FMA: eight lanes for the products and the
    /// activations.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn step_avx2(&self, state: &mut State, input: usize) {
        self.step_sized::<true>(state, input);
    }

    #[inline(always)]
    fn step_sized<const FMA: bool>(&self, state: &mut State, input: usize) {
        // Scratch on the stack, no allocation per event; sized to the model so that zeroing it
        // does not cost more than the step (hidden ≤ MAX_HIDDEN, checked at load).
        match self.config.hidden {
            0..=32 => self.step_with::<32, FMA>(state, input),
            33..=64 => self.step_with::<64, FMA>(state, input),
            _ => self.step_with::<MAX_HIDDEN, FMA>(state, input),
        }
    }

    #[inline(always)]
    fn step_with<const N: usize, const FMA: bool>(&self, state: &mut State, input: usize) {
        let h = self.config.hidden;
        let input = input.min(self.inputs - 1);
        let mut gates_buf = [[0f32; N]; 4];
        // `[below | h]`: the layer's input from the layer below, then its own previous `h`.
        let mut x_buf = [[0f32; N]; 2];
        let gates = &mut gates_buf.as_flattened_mut()[..4 * h];
        let x = x_buf.as_flattened_mut();
        for (l, packed) in self.gates.iter().enumerate() {
            let (hs, cs) = state.values[l * 2 * h..(l + 1) * 2 * h].split_at_mut(h);
            if l == 0 {
                let first = &self.first[input * 4 * h..(input + 1) * 4 * h];
                packed.mul_add::<FMA>(first, hs, gates);
            } else {
                x[h..2 * h].copy_from_slice(hs);
                packed.mul_add::<FMA>(&self.biases[l], &x[..2 * h], gates);
            }
            // Activations gate block by gate block: simple loops the compiler vectorises.
            let (ifg, o) = gates.split_at_mut(3 * h);
            let (i_f, g) = ifg.split_at_mut(2 * h);
            i_f.iter_mut().for_each(|v| *v = sigmoid(*v));
            g.iter_mut().for_each(|v| *v = tanh(*v));
            o.iter_mut().for_each(|v| *v = sigmoid(*v));
            for j in 0..h {
                cs[j] = i_f[h + j] * cs[j] + i_f[j] * g[j];
            }
            for j in 0..h {
                hs[j] = o[j] * tanh(cs[j]);
            }
            if l + 1 < self.gates.len() {
                x[..h].copy_from_slice(hs);
            }
        }
    }

    fn top<'a>(&self, state: &'a State) -> &'a [f32] {
        let (l, h) = (self.config.layers, self.config.hidden);
        &state.values[(l - 1) * 2 * h..(l - 1) * 2 * h + h]
    }

    /// The probabilities of each output class (vocabulary index) for the next key, given
    /// `state`, written into `probs` (`outputs` long).
    pub fn predict(&self, state: &State, probs: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: as in `step`.
            unsafe { self.predict_avx2(state, probs) };
            return;
        }
        self.predict_with::<false>(state, probs);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn predict_avx2(&self, state: &State, probs: &mut [f32]) {
        self.predict_with::<true>(state, probs);
    }

    #[inline(always)]
    fn predict_with<const FMA: bool>(&self, state: &State, probs: &mut [f32]) {
        let probs = &mut probs[..self.outputs];
        self.out_w
            .mul_add::<FMA>(&self.out_b, self.top(state), probs);
        let max = lanes_max(probs);
        probs.iter_mut().for_each(|p| *p = exp(*p - max));
        let sum = lanes_sum(probs);
        probs.iter_mut().for_each(|p| *p /= sum);
    }

    /// `-ln p` of output class `output` given `state`, as [`crate::model::train::surprise`]
    /// of [`Self::predict`]'s probability but without normalising every class: the log of the
    /// softmax's sum less the class's logit. `logits` is scratch, `outputs` long; `output` must
    /// be below [`Self::outputs`] (a larger one is read as the last class).
    pub fn surprise(&self, state: &State, output: usize, logits: &mut [f32]) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: as in `step`.
            return unsafe { self.surprise_avx2(state, output, logits) };
        }
        self.surprise_with::<false>(state, output, logits)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn surprise_avx2(&self, state: &State, output: usize, logits: &mut [f32]) -> f64 {
        self.surprise_with::<true>(state, output, logits)
    }

    #[inline(always)]
    fn surprise_with<const FMA: bool>(
        &self,
        state: &State,
        output: usize,
        logits: &mut [f32],
    ) -> f64 {
        let logits = &mut logits[..self.outputs];
        self.out_w
            .mul_add::<FMA>(&self.out_b, self.top(state), logits);
        let max = lanes_max(logits);
        debug_assert!(output < self.outputs, "output {output} of {}", self.outputs);
        let own = logits[output.min(self.outputs - 1)] - max;
        logits.iter_mut().for_each(|l| *l = exp(*l - max));
        let sum = lanes_sum(logits);
        // The same bound as `surprise(p)`: p below 1e-30 counts as 1e-30.
        (f64::from(sum).ln() - f64::from(own)).min(-(1e-30f64.ln()))
    }

    /// The logits of the next key given `state` (for comparing with candle).
    pub fn logits(&self, state: &State) -> Vec<f32> {
        let mut out = vec![0f32; self.outputs];
        self.out_w
            .mul_add::<false>(&self.out_b, self.top(state), &mut out);
        out
    }
}

/// States kept between events at half precision (IEEE binary16): half the memory of f32 per
/// user. Values are rounded to nearest even and saturate at ±65504 (`c` is unbounded in
/// principle; an infinity would turn into NaN at the next step). The step itself runs in f32.
impl Scorer {
    /// Widens a state stored by [`Self::narrow`] (`state_len` values) into `state`.
    pub fn widen(&self, half: &[u16], state: &mut State) {
        let out = &mut state.values[..];
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is true only when the CPU reported F16C (and AVX2, FMA).
            unsafe { widen_f16c(half, out) };
            return;
        }
        for (o, h) in out.iter_mut().zip(half) {
            *o = f16_value(*h);
        }
    }

    /// Rounds `state` to half precision into `half` (`state_len` values).
    pub fn narrow(&self, state: &State, half: &mut [u16]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: as in `widen`.
            unsafe { narrow_f16c(&state.values, half) };
            return;
        }
        for (h, v) in half.iter_mut().zip(&state.values) {
            *h = f16_bits(*v);
        }
    }
}

/// The largest finite half.
const F16_MAX: f32 = 65_504.0;

/// `x` as half-precision bits, rounded to nearest even, saturated at ±[`F16_MAX`] (F. Giesen's
/// `float_to_half_fast3_rtne`). `x` must not be NaN.
pub fn f16_bits(x: f32) -> u16 {
    let b = x.clamp(-F16_MAX, F16_MAX).to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let a = b & 0x7fff_ffff;
    let h = if a < 113 << 23 {
        // Below the smallest normal half: adding this constant puts the 10 mantissa bits at
        // the bottom, and the float addition rounds to nearest even.
        let magic = f32::from_bits((127 - 15 + 23 - 10 + 1) << 23);
        (f32::from_bits(a) + magic).to_bits() - magic.to_bits()
    } else {
        // Rebias the exponent and round to nearest even on the 13 bits dropped.
        let odd = (a >> 13) & 1;
        (a - (112 << 23) + 0xfff + odd) >> 13
    };
    sign | h as u16
}

/// The value of half-precision bits `h` (exact).
pub fn f16_value(h: u16) -> f32 {
    let shifted_exp = 0x7c00u32 << 13;
    let o = (u32::from(h & 0x7fff) << 13) + ((127 - 15) << 23);
    let f = match (u32::from(h & 0x7fff) << 13) & shifted_exp {
        // Infinity or NaN.
        e if e == shifted_exp => f32::from_bits(o + ((128 - 16) << 23)),
        // Zero or subnormal: renormalise.
        0 => f32::from_bits(o + (1 << 23)) - f32::from_bits(113 << 23),
        _ => f32::from_bits(o),
    };
    f32::from_bits(f.to_bits() | (u32::from(h & 0x8000) << 16))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,f16c")]
fn widen_f16c(half: &[u16], out: &mut [f32]) {
    use std::arch::x86_64::{_mm_loadu_si128, _mm256_cvtph_ps, _mm256_storeu_ps};
    let (mut hs, mut os) = (half.chunks_exact(8), out.chunks_exact_mut(8));
    for (h, o) in (&mut hs).zip(&mut os) {
        // SAFETY: unaligned load of 8 u16 and store of 8 f32, both within their chunks.
        unsafe {
            _mm256_storeu_ps(
                o.as_mut_ptr(),
                _mm256_cvtph_ps(_mm_loadu_si128(h.as_ptr().cast())),
            )
        };
    }
    for (h, o) in hs.remainder().iter().zip(os.into_remainder()) {
        *o = f16_value(*h);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,f16c")]
fn narrow_f16c(values: &[f32], half: &mut [u16]) {
    use std::arch::x86_64::{
        _MM_FROUND_TO_NEAREST_INT, _mm_storeu_si128, _mm256_cvtps_ph, _mm256_loadu_ps,
        _mm256_max_ps, _mm256_min_ps, _mm256_set1_ps,
    };
    let (mut vs, mut hs) = (values.chunks_exact(8), half.chunks_exact_mut(8));
    for (v, h) in (&mut vs).zip(&mut hs) {
        // SAFETY: unaligned load of 8 f32 and store of 8 u16, both within their chunks.
        unsafe {
            let x = _mm256_loadu_ps(v.as_ptr());
            let x = _mm256_min_ps(
                _mm256_max_ps(x, _mm256_set1_ps(-F16_MAX)),
                _mm256_set1_ps(F16_MAX),
            );
            let b = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(x);
            _mm_storeu_si128(h.as_mut_ptr().cast(), b);
        }
    }
    for (v, h) in vs.remainder().iter().zip(hs.into_remainder()) {
        *h = f16_bits(*v);
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
    fn candle_batches_agree_with_the_f32_path_row_by_row() {
        // Two different sequences in one batch: each row's logits are its own sequence's.
        let model = random_model(2);
        let net = Net::from_weights(&model.weights).unwrap();
        let seqs: [[u32; 5]; 2] = [[6, 1, 2, 5, 0], [3, 3, 4, 1, 6]];
        let flat: Vec<u32> = seqs.iter().flatten().copied().collect();
        let input = Tensor::from_vec(flat, (2, 5), &Device::Cpu).unwrap();
        let logits = net.forward(&input).unwrap().to_vec3::<f32>().unwrap();
        let scorer = Scorer::new(&model);
        for (b, seq) in seqs.iter().enumerate() {
            let mut state = scorer.zero();
            for (t, &x) in seq.iter().enumerate() {
                scorer.step(&mut state, x as usize);
                for (a, c) in scorer.logits(&state).iter().zip(&logits[b][t]) {
                    assert!((a - c).abs() < 1e-5, "row {b} step {t}: {a} vs {c}");
                }
            }
        }
    }

    #[test]
    fn surprise_is_minus_ln_of_the_predicted_probability() {
        let model = random_model(2);
        let scorer = Scorer::new(&model);
        let mut state = scorer.zero();
        let (mut probs, mut logits) = (vec![0f32; scorer.outputs()], vec![0f32; scorer.outputs()]);
        for x in [6, 1, 2, 5, 0, 3, 3, 4] {
            scorer.step(&mut state, x);
            scorer.predict(&state, &mut probs);
            assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            for (i, p) in probs.iter().enumerate() {
                let want = crate::model::train::surprise(*p);
                let got = scorer.surprise(&state, i, &mut logits);
                let portable = scorer.surprise_with::<false>(&state, i, &mut logits);
                assert!((got - want).abs() < 1e-5, "{x} {i}: {got} vs {want}");
                assert!((got - portable).abs() < 1e-6, "{got} vs {portable}");
            }
        }
    }

    #[test]
    fn portable_step_agrees_with_the_vector_one() {
        let model = random_model(2);
        let scorer = Scorer::new(&model);
        let (mut a, mut b) = (scorer.zero(), scorer.zero());
        for x in [6, 1, 2, 5, 0, 3, 3, 4] {
            scorer.step(&mut a, x);
            scorer.step_sized::<false>(&mut b, x);
            for (p, q) in a.values().iter().zip(b.values()) {
                assert!((p - q).abs() < 1e-6, "{p} vs {q}");
            }
        }
    }

    #[test]
    fn halves_round_trip_and_agree_with_f16c() {
        for h in 0..=u16::MAX {
            let v = f16_value(h);
            if v.is_nan() {
                continue;
            }
            if v.is_finite() {
                assert_eq!(f16_bits(v), h, "{h:#x}");
            }
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("f16c") {
                let mut out = [0f32; 8];
                // SAFETY: F16C was detected.
                unsafe { widen_f16c(&[h; 8], &mut out) };
                assert_eq!(out[0].to_bits(), v.to_bits(), "{h:#x}");
            }
        }
        // Rounding, halfway cases (to even), subnormals and saturation.
        let mut xs = vec![
            0.0, -0.0, 1.0, 65504.0, 65519.0, 1e6, -1e6, 6.1e-5, 3e-8, 1e-9,
        ];
        xs.extend((0..20_000).map(|i| ((i as f32) * 0.7213).sin() * 10f32.powi(i % 9 - 6)));
        xs.extend((0..2048u32).map(|m| f32::from_bits(0x3f80_0000 + (m << 12))));
        assert_eq!(f16_bits(1e6), f16_bits(65504.0));
        for x in xs {
            let h = f16_bits(x);
            let back = f16_value(h);
            assert!(
                (back - x.clamp(-65504.0, 65504.0)).abs() <= x.abs() * 4.9e-4 + 6e-8,
                "{x}"
            );
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("f16c") {
                let mut out = [0u16; 8];
                // SAFETY: F16C was detected.
                unsafe { narrow_f16c(&[x; 8], &mut out) };
                assert_eq!(out[0], h, "{x}");
            }
        }
    }

    #[test]
    fn half_precision_states_score_like_f32_states() {
        // The agent keeps states in f16 between events and steps in f32: over a long session
        // the rounding must not add up.
        let model = random_model(2);
        let scorer = Scorer::new(&model);
        let (mut exact, mut rounded) = (scorer.zero(), scorer.zero());
        let mut half = vec![0u16; scorer.state_len()];
        let (mut p, mut q) = (vec![0f32; scorer.outputs()], vec![0f32; scorer.outputs()]);
        for t in 0..500 {
            let x = [6, 1, 2, 5, 0, 3, 3, 4][t % 8] ^ (t / 97 % 2);
            scorer.step(&mut exact, x);
            scorer.step(&mut rounded, x);
            scorer.narrow(&rounded, &mut half);
            scorer.widen(&half, &mut rounded);
            scorer.predict(&exact, &mut p);
            scorer.predict(&rounded, &mut q);
            for (a, b) in p.iter().zip(&q) {
                assert!((a - b).abs() < 2e-3, "step {t}: {a} vs {b}");
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
