//! The Nature CNN (Mnih et al., 2015): the trunk of CleanRL's `ppo_atari.py`, one of the
//! nine Atari details of "The 37 Implementation Details of PPO".
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
//! smaller instance of the same architecture ([`NatureCnn::with_sizes`]) with PyTorch,
//! forward and gradients (`tests/reference/make_cnn_fixture.py`).

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

/// Three convolutions and a dense layer, each followed by a ReLU.
#[derive(Clone, Debug)]
pub struct NatureCnn {
    /// The three convolutions, in order.
    pub convs: [Conv2d; 3],
    /// The dense layer after the flatten.
    pub dense: Linear,
    /// The parameters' copies on the tape of the last [`forward`](NatureCnn::forward).
    recorded: Vec<Var>,
}

impl NatureCnn {
    /// The Nature CNN on `4×84×84` frames, with 512 features.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> NatureCnn {
        NatureCnn::with_sizes(4, 84, [32, 64, 64], 512, rng)
    }

    /// The same architecture on `channels` planes of `side×side`, with the
    /// convolutions' widths and the dense layer's size given (the kernels and strides
    /// stay 8/4, 4/2, 3/1). Panics if a window does not fit.
    pub fn with_sizes<R: Rng + ?Sized>(
        channels: u32,
        side: u32,
        widths: [u32; 3],
        dense: usize,
        rng: &mut R,
    ) -> NatureCnn {
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
        let convs: [Conv2d; 3] = convs.try_into().expect("three convolutions");
        NatureCnn { convs, dense, recorded: Vec::new() }
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
    pub fn params_mut(&mut self) -> impl Iterator<Item = &mut Param> {
        self.convs
            .iter_mut()
            .flat_map(|c| [&mut c.weight, &mut c.bias])
            .chain([&mut self.dense.weight, &mut self.dense.bias])
    }

    /// After `tape.backward`, adds the gradients of the last
    /// [`forward`](NatureCnn::forward) into the parameters' `grad`.
    pub fn accumulate_grads(&mut self, tape: &Tape) {
        assert_eq!(self.recorded.len(), 8, "accumulate_grads before forward");
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
        let mut cnn = NatureCnn::new(&mut Xoshiro256PlusPlus::seed_from_u64(0));
        assert_eq!(cnn.dense.weight.value.shape(), &[512, 3136]);
        assert_eq!(cnn.input_len(), 4 * 84 * 84);
        let mut pixels = vec![0.0f32; 2 * cnn.input_len()];
        NatureCnn::scale_pixels(&(0..pixels.len()).map(|i| (i % 256) as u8).collect::<Vec<_>>(), &mut pixels);
        assert_eq!((pixels[0], pixels[255]), (0.0, 1.0));
        let mut tape = Tape::new();
        let x = tape.input(2, cnn.input_len(), &pixels, false);
        let features = cnn.forward(&mut tape, x);
        assert_eq!(tape.shape(features), (2, 512));
        assert!(tape.value(features).iter().all(|&v| v >= 0.0 && v.is_finite()));
    }
}
