//! Convolutional trunks for pixel observations: the Nature CNN (Mnih et al., 2015), the
//! trunk of CleanRL's `ppo_atari.py` and one of the nine Atari details of "The 37
//! Implementation Details of PPO", and MinAtar's network (Young and Tian, 2019).
//!
//! The Nature CNN ([`Cnn::nature`]):
//!
//! ```text
//! pixels / 255 → conv 32 × 8×8, stride 4 → ReLU → conv 64 × 4×4, stride 2 → ReLU
//!              → conv 64 × 3×3, stride 1 → ReLU → flatten → Linear 512 → ReLU
//! ```
//!
//! on four stacked 84×84 grey frames (`4×84×84` → `32×20×20` → `64×9×9` → `64×7×7` →
//! 3136 → 512). Each layer is initialised as CleanRL's `layer_init`: orthogonal weights
//! with gain √2 (a convolution's weight taken as the `O×(C·K·K)` matrix, as
//! `torch.nn.init.orthogonal_` flattens it), biases 0. The convolutions are the tape's
//! [`Tape::conv2d`] (through [`crate::kernels::conv`]); the flatten is free, since a
//! convolution's output rows are already NCHW. `tests/torch_fixtures.rs` compares a
//! smaller instance of the same architecture ([`Cnn::with_sizes`]) with PyTorch,
//! forward and gradients (`tests/reference/make_cnn_fixture.py`).
//!
//! MinAtar's ([`Cnn::minatar`]), on its `C×10×10` boolean planes (no scaling):
//!
//! ```text
//! conv 16 × 3×3, stride 1 → ReLU → flatten (16×8×8 = 1024) → Linear 128 → ReLU
//! ```

use super::autodiff::{Tape, Var};
use super::nn::{orthogonal, Linear, Param};
use super::tensor::Tensor;
use crate::kernels::conv::ConvShape;
use crate::math::activation::Activation;
use rand::Rng;

/// A convolution layer: its weight (`O×(C·K·K)`), bias (`O`) and geometry.
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// `O×(C·K·K)`: PyTorch's `[O, C, K, K]`, flattened.
    pub weight: Param,
    /// `O`.
    pub bias: Param,
    /// The geometry.
    pub shape: ConvShape,
}

impl Conv2d {
    /// CleanRL's `layer_init(nn.Conv2d(...))`: orthogonal weight with gain √2, bias 0.
    pub fn new<R: Rng + ?Sized>(shape: ConvShape, rng: &mut R) -> Conv2d {
        let o = shape.out_channels as usize;
        Conv2d {
            weight: Param::new(orthogonal(o, shape.patch_len(), std::f32::consts::SQRT_2, rng)),
            bias: Param::new(Tensor::zeros(&[o])),
            shape,
        }
    }
}

/// Which convolutional trunk an agent reads pixel observations with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CnnKind {
    /// None: the observations are a flat vector.
    None,
    /// The Nature CNN ([`Cnn::nature`]), on frames of bytes scaled by 1/255.
    Nature,
    /// MinAtar's network ([`Cnn::minatar`]), on its 0/1 planes.
    MinAtar,
}

impl CnnKind {
    /// `none`, `nature` or `minatar`.
    pub fn name(self) -> &'static str {
        match self {
            CnnKind::None => "none",
            CnnKind::Nature => "nature",
            CnnKind::MinAtar => "minatar",
        }
    }

    /// The kind named `name` (any case).
    pub fn from_name(name: &str) -> Option<CnnKind> {
        match name.to_ascii_lowercase().as_str() {
            "none" => Some(CnnKind::None),
            "nature" => Some(CnnKind::Nature),
            "minatar" => Some(CnnKind::MinAtar),
            _ => None,
        }
    }
}

/// Convolutions and a dense layer, each followed by a ReLU.
#[derive(Clone, Debug)]
pub struct Cnn {
    /// The convolutions, in order.
    pub convs: Vec<Conv2d>,
    /// The dense layer after the flatten.
    pub dense: Linear,
    /// Divide the input by 255 first (the Nature CNN's bytes; CleanRL's `x / 255.0`).
    pub scale_pixels: bool,
    /// The parameters' copies on the tape of the last [`forward`](Cnn::forward).
    recorded: Vec<Var>,
}

impl Cnn {
    /// The Nature CNN on `4×84×84` frames, with 512 features.
    pub fn nature<R: Rng + ?Sized>(rng: &mut R) -> Cnn {
        Cnn::with_sizes(4, 84, [32, 64, 64], 512, rng)
    }

    /// The trunk of `kind` on observations of `shape` (`[C, H, W]`), or why it does not
    /// fit them.
    pub fn for_observations<R: Rng + ?Sized>(kind: CnnKind, shape: &[usize], rng: &mut R) -> Result<Cnn, String> {
        let &[c, h, w] = shape else {
            return Err(format!("a CNN reads observations of shape [C, H, W]; these have shape {shape:?}"));
        };
        let fits = |kernel: usize| c > 0 && h >= kernel && w >= kernel && h < 1 << 16 && w < 1 << 16 && c < 1 << 16;
        match kind {
            CnnKind::None => Err("no CNN was asked for".into()),
            CnnKind::Nature if h == w && fits(36) => Ok(Cnn::with_sizes(c as u32, h as u32, [32, 64, 64], 512, rng)),
            CnnKind::Nature => Err(format!("the Nature CNN needs square frames of at least 36×36; these are {h}×{w}")),
            CnnKind::MinAtar if fits(3) => Ok(Cnn::minatar(c as u32, h as u32, w as u32, rng)),
            CnnKind::MinAtar => Err(format!("MinAtar's network needs frames of at least 3×3; these are {h}×{w}")),
        }
    }

    /// MinAtar's network on `channels` planes of `height×width`: one convolution of 16
    /// 3×3 filters, stride 1, and 128 features; no scaling.
    pub fn minatar<R: Rng + ?Sized>(channels: u32, height: u32, width: u32, rng: &mut R) -> Cnn {
        let shape = ConvShape { channels, height, width, kernel: 3, stride: 1, out_channels: 16 };
        let conv = Conv2d::new(shape, rng);
        let flat = shape.output_len();
        let dense = Linear::new(flat, 128, std::f32::consts::SQRT_2, 0.0, rng);
        Cnn { convs: vec![conv], dense, scale_pixels: false, recorded: Vec::new() }
    }

    /// The same architecture on `channels` planes of `side×side`, with the
    /// convolutions' widths and the dense layer's size given (the kernels and strides
    /// stay 8/4, 4/2, 3/1). Panics if a window does not fit.
    pub fn with_sizes<R: Rng + ?Sized>(channels: u32, side: u32, widths: [u32; 3], dense: usize, rng: &mut R) -> Cnn {
        let mut convs = Vec::with_capacity(3);
        let (mut c, mut h) = (channels, side);
        for (&(kernel, stride), &out_channels) in [(8, 4), (4, 2), (3, 1)].iter().zip(&widths) {
            assert!(kernel <= h, "a {kernel}×{kernel} kernel on {h}×{h} planes");
            let shape = ConvShape { channels: c, height: h, width: h, kernel, stride, out_channels };
            convs.push(Conv2d::new(shape, rng));
            (c, h) = (out_channels, shape.out_height() as u32);
        }
        let flat = (c * h * h) as usize;
        let dense = Linear::new(flat, dense, std::f32::consts::SQRT_2, 0.0, rng);
        Cnn { convs, dense, scale_pixels: true, recorded: Vec::new() }
    }

    /// Re-draws every parameter as PyTorch's default initialisation of `nn.Conv2d` and
    /// `nn.Linear` does: uniform in `±1/√fan_in` (`C·K·K` for a convolution), weight then
    /// bias, layer by layer. Used when orthogonal initialisation is switched off (SB3's
    /// `ortho_init=False`).
    pub fn reset_torch_default<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        for conv in &mut self.convs {
            let bound = 1.0 / (conv.shape.patch_len() as f32).sqrt();
            conv.weight = Param::new(Tensor::uniform(conv.weight.value.shape(), -bound, bound, rng));
            conv.bias = Param::new(Tensor::uniform(conv.bias.value.shape(), -bound, bound, rng));
        }
        self.dense.reset_torch_default(rng);
    }

    /// Values per input sample, `C·H·W`.
    pub fn input_len(&self) -> usize {
        self.convs[0].shape.input_len()
    }

    /// Features out, 512 for the Nature CNN.
    pub fn outputs(&self) -> usize {
        self.dense.weight.value.rows()
    }

    /// `pixels / 255` into `out`: raw frames scaled to `[0, 1]` (the detail "scale
    /// pixels", as CleanRL's `self.network(x / 255.0)` divides).
    pub fn scale_pixels(pixels: &[u8], out: &mut [f32]) {
        for (o, &p) in out.iter_mut().zip(pixels) {
            *o = p as f32 / 255.0;
        }
    }

    /// The network's input from `rows` observations `obs` (`rows×C·H·W`): scaled by
    /// 1/255 for the Nature CNN, as they are otherwise. Into `out`.
    pub fn prepare_input(&self, obs: &[f32], out: &mut Vec<f32>) {
        out.clear();
        if self.scale_pixels {
            out.extend(obs.iter().map(|&p| p / 255.0));
        } else {
            out.extend_from_slice(obs);
        }
    }

    /// Records the network on `x` (`B×(C·H·W)`, already scaled): `B×outputs` features.
    pub fn forward(&mut self, tape: &mut Tape, x: Var) -> Var {
        self.recorded.clear();
        let mut h = x;
        for conv in &self.convs {
            let (w, b) = (tape.param(&conv.weight.value), tape.param(&conv.bias.value));
            self.recorded.extend([w, b]);
            let z = tape.conv2d(h, w, b, conv.shape);
            h = tape.relu(z);
        }
        let (w, b) = (tape.param(&self.dense.weight.value), tape.param(&self.dense.bias.value));
        self.recorded.extend([w, b]);
        tape.linear(h, w, b, Some(Activation::Relu))
    }

    /// The parameters in PyTorch's order: each convolution's weight and bias, then the
    /// dense layer's.
    pub fn params(&self) -> impl Iterator<Item = &Param> {
        self.convs.iter().flat_map(|c| [&c.weight, &c.bias]).chain([&self.dense.weight, &self.dense.bias])
    }

    /// The parameters with CleanRL's names as `{prefix}.{i}.weight` in its
    /// `nn.Sequential`: convolution `k` at index `2k` (each followed by a ReLU), the
    /// flatten next, then the dense layer (`network.0`, `.2`, `.4`, `.7` for the Nature
    /// CNN; `network.0`, `.3` for MinAtar's).
    pub fn named_params(&self, prefix: &str) -> Vec<(String, &Param)> {
        let mut v = Vec::new();
        for (k, c) in self.convs.iter().enumerate() {
            v.push((format!("{prefix}.{}.weight", 2 * k), &c.weight));
            v.push((format!("{prefix}.{}.bias", 2 * k), &c.bias));
        }
        let dense = 2 * self.convs.len() + 1;
        v.push((format!("{prefix}.{dense}.weight"), &self.dense.weight));
        v.push((format!("{prefix}.{dense}.bias"), &self.dense.bias));
        v
    }

    /// [`params`](Cnn::params), mutably.
    pub fn params_mut(&mut self) -> impl Iterator<Item = &mut Param> {
        self.convs
            .iter_mut()
            .flat_map(|c| [&mut c.weight, &mut c.bias])
            .chain([&mut self.dense.weight, &mut self.dense.bias])
    }

    /// After `tape.backward`, adds the gradients of the last
    /// [`forward`](Cnn::forward) into the parameters' `grad`.
    pub fn accumulate_grads(&mut self, tape: &Tape) {
        assert_eq!(self.recorded.len(), 2 * self.convs.len() + 2, "accumulate_grads before forward");
        let convs = self.convs.iter_mut().flat_map(|c| [&mut c.weight, &mut c.bias]);
        let params = convs.chain([&mut self.dense.weight, &mut self.dense.bias]);
        for (p, &v) in params.zip(&self.recorded) {
            p.grad.data_mut().iter_mut().zip(tape.grad(v)).for_each(|(g, &d)| *g += d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::rng::Xoshiro256PlusPlus;
    use rand::SeedableRng;

    #[test]
    fn the_nature_geometry_flattens_to_3136_and_gives_512_features() {
        let mut cnn = Cnn::nature(&mut Xoshiro256PlusPlus::seed_from_u64(0));
        assert_eq!(cnn.dense.weight.value.shape(), &[512, 3136]);
        assert_eq!(cnn.input_len(), 4 * 84 * 84);
        let mut pixels = vec![0.0f32; 2 * cnn.input_len()];
        Cnn::scale_pixels(&(0..pixels.len()).map(|i| (i % 256) as u8).collect::<Vec<_>>(), &mut pixels);
        assert_eq!((pixels[0], pixels[255]), (0.0, 1.0));
        let mut tape = Tape::new();
        let x = tape.input(2, cnn.input_len(), &pixels, false);
        let features = cnn.forward(&mut tape, x);
        assert_eq!(tape.shape(features), (2, 512));
        assert!(tape.value(features).iter().all(|&v| v >= 0.0 && v.is_finite()));
    }
}
