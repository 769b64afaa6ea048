//! The network in candle, for training: embedding → LSTM layers → linear.
//!
//! Weight names and layouts follow PyTorch (`weight_ih_l0`, gates input/forget/cell/output), so
//! the same arrays feed the f32 inference path ([`super::infer`]). Each step takes its own input
//! (see [`Net::forward`]); the embedding's gradient is then a `[inputs, embed]` sum per step,
//! small for the vocabularies of log keys.

use super::{LayerWeights, ModelConfig, SplitMix, Weights};
use candle_core::{DType, Device, Result, Tensor, Var};

/// The trainable network.
pub struct Net {
    config: ModelConfig,
    embed: Var,
    layers: Vec<[Var; 4]>,
    out_w: Var,
    out_b: Var,
}

fn var(values: Vec<f32>, shape: &[usize]) -> Result<Var> {
    Var::from_tensor(&Tensor::from_vec(values, shape, &Device::Cpu)?)
}

fn values(v: &Var) -> Result<Vec<f32>> {
    v.as_tensor().flatten_all()?.to_vec1::<f32>()
}

impl Net {
    /// A network with fresh weights drawn from `rng` (PyTorch's default ranges: `±1/√H` for the
    /// LSTM and the output layer, `±1` for the embedding).
    pub fn init(
        config: ModelConfig,
        inputs: usize,
        outputs: usize,
        rng: &mut SplitMix,
    ) -> Result<Self> {
        let (e, h) = (config.embed, config.hidden);
        let bound = 1.0 / (h as f32).sqrt();
        let mut draw = |n: usize, b: f32| (0..n).map(|_| rng.uniform(b)).collect::<Vec<f32>>();
        let embed = draw(inputs * e, 1.0);
        let mut layers = Vec::new();
        for l in 0..config.layers {
            let input = if l == 0 { e } else { h };
            layers.push(LayerWeights {
                w_ih: draw(4 * h * input, bound),
                w_hh: draw(4 * h * h, bound),
                b_ih: draw(4 * h, bound),
                b_hh: draw(4 * h, bound),
            });
        }
        let weights = Weights {
            config,
            embed,
            layers,
            out_w: draw(outputs * h, bound),
            out_b: draw(outputs, bound),
        };
        Self::from_weights(&weights)
    }

    /// A network holding `w` (for more training or for checking the f32 path).
    pub fn from_weights(w: &Weights) -> Result<Self> {
        let (e, h) = (w.config.embed, w.config.hidden);
        let inputs = w.embed.len() / e;
        let outputs = w.out_b.len();
        let mut layers = Vec::new();
        for (l, lw) in w.layers.iter().enumerate() {
            let input = if l == 0 { e } else { h };
            layers.push([
                var(lw.w_ih.clone(), &[4 * h, input])?,
                var(lw.w_hh.clone(), &[4 * h, h])?,
                var(lw.b_ih.clone(), &[4 * h])?,
                var(lw.b_hh.clone(), &[4 * h])?,
            ]);
        }
        Ok(Self {
            config: w.config,
            embed: var(w.embed.clone(), &[inputs, e])?,
            layers,
            out_w: var(w.out_w.clone(), &[outputs, h])?,
            out_b: var(w.out_b.clone(), &[outputs])?,
        })
    }

    /// The current weights as plain arrays.
    pub fn to_weights(&self) -> Result<Weights> {
        let mut layers = Vec::new();
        for [w_ih, w_hh, b_ih, b_hh] in &self.layers {
            layers.push(LayerWeights {
                w_ih: values(w_ih)?,
                w_hh: values(w_hh)?,
                b_ih: values(b_ih)?,
                b_hh: values(b_hh)?,
            });
        }
        Ok(Weights {
            config: self.config,
            embed: values(&self.embed)?,
            layers,
            out_w: values(&self.out_w)?,
            out_b: values(&self.out_b)?,
        })
    }

    /// Every trainable variable, for the optimiser.
    pub fn vars(&self) -> Vec<Var> {
        let mut v = vec![self.embed.clone(), self.out_w.clone(), self.out_b.clone()];
        for layer in &self.layers {
            v.extend(layer.iter().cloned());
        }
        v
    }

    /// Logits `[B, T, outputs]` for input indices `[B, T]` (u32), starting from a zero state.
    ///
    /// Each step takes its own inputs (an embedding lookup, or the `h` of the layer below) rather
    /// than a slice of one tensor for the whole sequence: the gradient of a slice is as large as
    /// the whole, zero-padded, so slicing made every batch's backward pass quadratic in its
    /// length (a third of the training time at 64 keys a piece).
    pub fn forward(&self, inputs: &Tensor) -> Result<Tensor> {
        let (b, t) = inputs.dims2()?;
        let h = self.config.hidden;
        // `[T, B]`, so that a step's indices are one contiguous row.
        let steps = inputs.t()?.contiguous()?;
        let mut xs = (0..t)
            .map(|s| self.embed.as_tensor().index_select(&steps.get(s)?, 0))
            .collect::<Result<Vec<_>>>()?;
        for [w_ih, w_hh, b_ih, b_hh] in &self.layers {
            let bias = (b_ih.as_tensor() + b_hh.as_tensor())?;
            let w_ih_t = w_ih.as_tensor().t()?;
            let w_hh_t = w_hh.as_tensor().t()?;
            let mut hc = Tensor::zeros((b, h), DType::F32, &Device::Cpu)?;
            let mut cc = hc.clone();
            for x in xs.iter_mut() {
                let gates = (x.matmul(&w_ih_t)?.broadcast_add(&bias)? + hc.matmul(&w_hh_t)?)?;
                let i = candle_nn::ops::sigmoid(&gates.narrow(1, 0, h)?)?;
                let f = candle_nn::ops::sigmoid(&gates.narrow(1, h, h)?)?;
                let g = gates.narrow(1, 2 * h, h)?.tanh()?;
                let o = candle_nn::ops::sigmoid(&gates.narrow(1, 3 * h, h)?)?;
                cc = ((f * &cc)? + (i * g)?)?;
                hc = (o * cc.tanh()?)?;
                *x = hc.clone();
            }
        }
        let x = Tensor::stack(&xs, 1)?;
        let outputs = self.out_b.as_tensor().dim(0)?;
        x.reshape((b * t, h))?
            .matmul(&self.out_w.as_tensor().t()?)?
            .broadcast_add(self.out_b.as_tensor())?
            .reshape((b, t, outputs))
    }

    /// Mean cross-entropy of `targets` `[B, T]` (u32) over the positions where `mask` `[B, T]`
    /// (f32, 1 or 0) is 1.
    pub fn loss(&self, inputs: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let logits = self.forward(inputs)?;
        let (b, t, c) = logits.dims3()?;
        let logp = candle_nn::ops::log_softmax(&logits.reshape((b * t, c))?, 1)?;
        let picked = logp
            .gather(&targets.reshape((b * t, 1))?, 1)?
            .reshape(b * t)?;
        let mask = mask.reshape(b * t)?;
        let count = mask.sum_all()?.to_scalar::<f32>()?.max(1.0);
        (picked * mask)?
            .sum_all()?
            .affine(-1.0 / f64::from(count), 0.0)
    }
}
