//! `burn_rnn::conv::Conv2d` against Burn's own convolution (outputs and every gradient), finite
//! differences, the record and conversions shared with `burn::nn::conv::Conv2d`, and its
//! errors.

mod common;

use burn::module::{AutodiffModule, Module};
use burn::nn::PaddingConfig2d;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Tensor, TensorData};
use burn_rnn::conv::{conv2d, Conv2d, Conv2dConfig};
use burn_rnn::ConfigError;
use common::{assert_close, device, AD, B};

/// `(x shape, weight shape, stride, padding, dilation, groups)`
type Case = (
    [usize; 4],
    [usize; 4],
    [usize; 2],
    [usize; 2],
    [usize; 2],
    usize,
);

const CASES: [Case; 8] = [
    ([2, 3, 9, 11], [5, 3, 3, 3], [1, 1], [1, 1], [1, 1], 1),
    ([1, 1, 16, 40], [16, 1, 3, 3], [1, 1], [1, 1], [1, 1], 1),
    ([3, 4, 10, 9], [6, 4, 3, 3], [2, 2], [1, 0], [1, 1], 1),
    ([2, 5, 12, 13], [7, 5, 3, 2], [1, 2], [2, 1], [2, 1], 1),
    ([2, 6, 7, 8], [9, 6, 1, 1], [1, 1], [0, 0], [1, 1], 1),
    ([1, 3, 11, 12], [4, 3, 5, 5], [1, 1], [2, 2], [1, 1], 1),
    ([2, 6, 8, 9], [4, 3, 3, 3], [1, 1], [1, 1], [1, 1], 2),
    ([2, 17, 13, 21], [33, 17, 3, 3], [1, 1], [1, 1], [1, 1], 1),
];

fn random<const D: usize>(shape: [usize; D]) -> TensorData {
    Tensor::<B, D>::random(shape, Distribution::Uniform(-1.0, 1.0), &device()).into_data()
}

/// Output and the gradients of `x`, `weight` and `bias` of `sum(conv(x) * r)`, by `conv`.
fn run(
    case: &Case,
    data: &[TensorData; 4],
    conv: impl Fn(Tensor<AD, 4>, Tensor<AD, 4>, Tensor<AD, 1>, ConvOptions<2>) -> Tensor<AD, 4>,
) -> [TensorData; 4] {
    let dev = device();
    let &(_, _, stride, padding, dilation, groups) = case;
    let x = Tensor::<AD, 4>::from_data(data[0].clone(), &dev).require_grad();
    let w = Tensor::<AD, 4>::from_data(data[1].clone(), &dev).require_grad();
    let b = Tensor::<AD, 1>::from_data(data[2].clone(), &dev).require_grad();
    let options = ConvOptions::new(stride, padding, dilation, groups);
    let y = conv(x.clone(), w.clone(), b.clone(), options);
    let r = Tensor::<AD, 4>::from_data(data[3].clone(), &dev);
    let grads = (y.clone() * r).sum().backward();
    let grad = |g: Option<TensorData>| g.expect("tracked");
    [
        y.into_data(),
        grad(x.grad(&grads).map(|g| g.into_data())),
        grad(w.grad(&grads).map(|g| g.into_data())),
        grad(b.grad(&grads).map(|g| g.into_data())),
    ]
}

#[test]
fn fused_convolution_matches_burns_on_outputs_and_every_gradient() {
    for (i, case) in CASES.iter().enumerate() {
        let (xs, ws, stride, padding, dilation, groups) = *case;
        let options = ConvOptions::new(stride, padding, dilation, groups);
        let out_shape = burn_conv2d(
            Tensor::<B, 4>::zeros(xs, &device()),
            Tensor::<B, 4>::zeros(ws, &device()),
            None,
            options,
        )
        .dims();
        let data = [random(xs), random(ws), random([ws[0]]), random(out_shape)];
        let ours = run(case, &data, |x, w, b, o| conv2d(x, w, Some(b), o));
        let burns = run(case, &data, |x, w, b, o| burn_conv2d(x, w, Some(b), o));
        for (what, (a, b)) in ["y", "dx", "dw", "db"]
            .iter()
            .zip(ours.into_iter().zip(burns))
        {
            assert_close(&format!("case {i} {case:?}: {what}"), a, b, 1e-4);
        }
    }
}

/// Central differences of `sum(conv(x)^2) / 2`, a quadratic, so they are exact up to rounding.
#[test]
fn gradients_match_finite_differences() {
    let dev = device();
    let conv: Conv2d<AD> = Conv2dConfig::new([2, 3], [3, 3])
        .with_stride([2, 1])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_dilation([1, 2])
        .init(&dev);
    let x0 = random([1, 2, 6, 7]);
    let loss = |conv: &Conv2d<AD>, x: Tensor<AD, 4>| conv.forward(x).powi_scalar(2).sum() / 2.0;
    let x = Tensor::<AD, 4>::from_data(x0.clone(), &dev).require_grad();
    let grads = loss(&conv, x.clone()).backward();
    let dx = x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
    let dw = conv
        .weight()
        .grad(&grads)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let db = conv.bias().unwrap().grad(&grads).unwrap();
    let db = db.into_data().to_vec::<f32>().unwrap();
    let eps = 1e-2f32;
    let at = |conv: &Conv2d<AD>, x: TensorData| -> f64 {
        let x = Tensor::<AD, 4>::from_data(x, &dev);
        loss(conv, x).into_scalar() as f64
    };
    let mut values = x0.to_vec::<f32>().unwrap();
    for i in (0..values.len()).step_by(5) {
        let v = values[i];
        values[i] = v + eps;
        let up = at(&conv, TensorData::new(values.clone(), x0.shape.clone()));
        values[i] = v - eps;
        let down = at(&conv, TensorData::new(values.clone(), x0.shape.clone()));
        values[i] = v;
        let fd = (up - down) / (2.0 * eps as f64);
        assert!(
            (fd - dx[i] as f64).abs() < 2e-3 * (1.0 + fd.abs()),
            "dx[{i}]: {fd} vs {}",
            dx[i]
        );
    }
    let x = TensorData::new(values, x0.shape.clone());
    let w0 = conv.weight().val().into_data();
    let mut w = w0.to_vec::<f32>().unwrap();
    for i in (0..w.len()).step_by(3) {
        let v = w[i];
        let mut shifted = |delta: f32| {
            w[i] = v + delta;
            let weight =
                Tensor::<AD, 4>::from_data(TensorData::new(w.clone(), w0.shape.clone()), &dev);
            let moved = conv.clone().map(&mut SetWeight(weight));
            at(&moved, x.clone())
        };
        let fd = (shifted(eps) - shifted(-eps)) / (2.0 * eps as f64);
        w[i] = v;
        assert!(
            (fd - dw[i] as f64).abs() < 2e-3 * (1.0 + fd.abs()),
            "dw[{i}]: {fd} vs {}",
            dw[i]
        );
    }
    // The loss's bias gradient is the sum of the outputs of each channel.
    let y = conv
        .forward(Tensor::from_data(x, &dev))
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let per_channel = y.len() / 3;
    for (c, g) in db.iter().enumerate() {
        let sum: f32 = y[c * per_channel..(c + 1) * per_channel].iter().sum();
        assert!(
            (sum - g).abs() < 1e-4 * (1.0 + sum.abs()),
            "db[{c}]: {sum} vs {g}"
        );
    }
}

/// Replaces a module's 4-D parameter (the convolution's weight) with a given tensor.
struct SetWeight(Tensor<AD, 4>);

impl burn::module::ModuleMapper<AD> for SetWeight {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<AD, D>>,
    ) -> burn::module::Param<Tensor<AD, D>> {
        if D != 4 {
            return param;
        }
        let value: Tensor<AD, D> = Tensor::from_data(self.0.to_data(), &self.0.device());
        param.map(|_| value)
    }
}

#[test]
fn records_and_conversions_are_burns() {
    let dev = device();
    let burns = burn::nn::conv::Conv2dConfig::new([3, 4], [2, 3])
        .with_stride([1, 2])
        .with_padding(PaddingConfig2d::Same)
        .init::<B>(&dev);
    let x = Tensor::<B, 4>::random([2, 3, 7, 10], Distribution::Default, &dev);
    let want = burns.forward(x.clone()).into_data();
    // A record of Burn's module loads into ours (the same names and layout) ...
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let bytes = recorder.record(burns.clone().into_record(), ()).unwrap();
    let ours: Conv2d<B> = Conv2dConfig::new([3, 4], [2, 3])
        .with_stride([1, 2])
        .with_padding(PaddingConfig2d::Same)
        .init(&dev);
    let ours = ours.load_record(recorder.load(bytes, &dev).unwrap());
    assert_close(
        "loaded record, even kernel, Same",
        ours.forward(x.clone()).into_data(),
        want.clone(),
        1e-5,
    );
    // ... and ours into Burn's.
    let bytes = recorder.record(ours.clone().into_record(), ()).unwrap();
    let back = burns
        .clone()
        .load_record(recorder.load(bytes, &dev).unwrap());
    assert_close(
        "record back",
        back.forward(x.clone()).into_data(),
        want.clone(),
        1e-5,
    );
    // `From` both ways.
    let converted = Conv2d::from(burns);
    assert_eq!(converted.channels(), [3, 4]);
    assert_eq!(converted.kernel_size(), [2, 3]);
    assert_close(
        "From",
        converted.forward(x.clone()).into_data(),
        want.clone(),
        1e-5,
    );
    let burns = burn::nn::conv::Conv2d::from(converted);
    assert_close("into Burn's", burns.forward(x).into_data(), want, 1e-5);
    let config =
        Conv2dConfig::from(burn::nn::conv::Conv2dConfig::new([3, 4], [2, 3]).with_groups(1));
    assert_eq!(
        (config.channels, config.kernel_size, config.bias),
        ([3, 4], [2, 3], true)
    );
}

#[test]
fn try_init_refuses_bad_settings() {
    let dev = device();
    let zero = |setting| {
        Err(ConfigError::Zero {
            module: "Conv2d",
            setting,
        })
    };
    let init = |c: Conv2dConfig| c.try_init::<B>(&dev).map(|_| ());
    assert_eq!(init(Conv2dConfig::new([0, 4], [3, 3])), zero("channels_in"));
    assert_eq!(
        init(Conv2dConfig::new([3, 0], [3, 3])),
        zero("channels_out")
    );
    assert_eq!(init(Conv2dConfig::new([3, 4], [3, 0])), zero("kernel_size"));
    assert_eq!(
        init(Conv2dConfig::new([3, 4], [3, 3]).with_stride([0, 1])),
        zero("stride")
    );
    assert_eq!(
        init(Conv2dConfig::new([3, 4], [3, 3]).with_dilation([1, 0])),
        zero("dilation")
    );
    assert_eq!(
        init(Conv2dConfig::new([3, 4], [3, 3]).with_groups(0)),
        zero("groups")
    );
    let groups = init(Conv2dConfig::new([3, 4], [3, 3]).with_groups(2));
    assert_eq!(
        groups,
        Err(ConfigError::Groups {
            module: "Conv2d",
            groups: 2,
            channels: [3, 4]
        })
    );
    assert_eq!(
        groups.unwrap_err().to_string(),
        "Conv2d: expected channels divisible by groups = 2, got 3 in and 4 out"
    );
}

#[test]
#[should_panic(
    expected = "Conv2d: expected input of shape [batch, 3, height, width], got [2, 4, 8, 8] \
                           (channels: expected 3, got 4)"
)]
fn forward_names_the_expected_channels() {
    let conv: Conv2d<B> = Conv2dConfig::new([3, 4], [3, 3]).init(&device());
    conv.forward(Tensor::zeros([2, 4, 8, 8], &device()));
}

#[test]
#[should_panic(expected = "Conv2d: expected an input of at least 5 rows after padding")]
fn forward_names_an_input_smaller_than_the_kernel() {
    let conv: Conv2d<B> = Conv2dConfig::new([1, 1], [5, 3]).init(&device());
    conv.forward(Tensor::zeros([1, 1, 4, 8], &device()));
}

/// Training-mode batch norm (autodiff) against `burn::nn::BatchNorm`: outputs and the
/// gradients of the input, gamma and beta; the running statistics as PyTorch updates them
/// (the unbiased variance); inference with them; records shared with Burn's module.
#[test]
fn batch_norm_matches_burns_and_updates_the_running_statistics_as_pytorch() {
    use burn_rnn::conv::{BatchNorm2d, BatchNorm2dConfig};
    let dev = device();
    let shape = [3, 5, 6, 7];
    let data = [random(shape), random(shape)];
    let run = |ours: bool| {
        let x = Tensor::<AD, 4>::from_data(data[0].clone(), &dev).require_grad();
        let r = Tensor::<AD, 4>::from_data(data[1].clone(), &dev);
        let burns = burn::nn::BatchNormConfig::new(5).init::<AD>(&dev);
        let (y, gamma, beta, bn) = match ours {
            true => {
                let bn = BatchNorm2d::from(burns);
                let y = bn.forward(x.clone());
                (y, bn.gamma().clone(), bn.beta().clone(), Some(bn))
            }
            false => {
                let y = burns.forward(x.clone());
                (y, burns.gamma.clone(), burns.beta.clone(), None)
            }
        };
        let grads = (y.clone() * r).sum().backward();
        let out = [
            y.into_data(),
            x.grad(&grads).unwrap().into_data(),
            gamma.grad(&grads).unwrap().into_data(),
            beta.grad(&grads).unwrap().into_data(),
        ];
        (out, bn)
    };
    let (ours, bn) = run(true);
    let (burns, _) = run(false);
    for (what, (a, b)) in ["y", "dx", "dgamma", "dbeta"]
        .iter()
        .zip(ours.into_iter().zip(burns))
    {
        assert_close(&format!("batch norm {what}"), a, b, 1e-4);
    }
    let bn: BatchNorm2d<AD> = bn.unwrap();
    let x = Tensor::<B, 4>::from_data(data[0].clone(), &dev);
    let per_channel = x.clone().swap_dims(0, 1).reshape([5, -1]);
    let mean = per_channel.clone().mean_dim(1).reshape([5]);
    let var = per_channel.var(1).reshape([5]); // unbiased
    assert_close(
        "running mean",
        bn.running_mean().into_data(),
        (mean * 0.1).into_data(),
        1e-5,
    );
    let want_var = var * 0.1 + 0.9;
    assert_close(
        "running var",
        bn.running_var().into_data(),
        want_var.clone().into_data(),
        1e-5,
    );
    // Inference (no autodiff) uses the running statistics.
    let bn: BatchNorm2d<B> = BatchNorm2dConfig::new(5)
        .init(&dev)
        .load_record(bn.valid().into_record());
    let y = bn.forward(x.clone());
    let rm = bn.running_mean().reshape([1, 5, 1, 1]);
    let rv = bn.running_var().reshape([1, 5, 1, 1]);
    assert_close(
        "inference",
        y.into_data(),
        ((x - rm) / (rv + 1e-5).sqrt()).into_data(),
        1e-5,
    );
    let config = BatchNorm2dConfig::new(0).try_init::<B>(&dev).map(|_| ());
    assert_eq!(
        config,
        Err(ConfigError::Zero {
            module: "BatchNorm2d",
            setting: "num_features"
        })
    );
    let momentum = BatchNorm2dConfig::new(2)
        .with_momentum(1.5)
        .try_init::<B>(&dev)
        .map(|_| ());
    assert!(matches!(
        momentum,
        Err(ConfigError::Range {
            setting: "momentum",
            ..
        })
    ));
}

/// Max pooling against `burn::nn::pool::MaxPool2d`: outputs and input gradients, for the
/// CRNN's pools, padding, dilation and an even kernel with `Same` padding.
#[test]
fn max_pool_matches_burns() {
    use burn::nn::pool::MaxPool2dConfig as BurnConfig;
    use burn_rnn::conv::{MaxPool2d, MaxPool2dConfig};
    let dev = device();
    let configs = [
        MaxPool2dConfig::new([2, 2]),
        MaxPool2dConfig::new([2, 1]),
        MaxPool2dConfig::new([3, 3])
            .with_strides([2, 1])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
        MaxPool2dConfig::new([2, 3]).with_dilation([2, 1]),
        MaxPool2dConfig::new([2, 2])
            .with_strides([1, 1])
            .with_padding(PaddingConfig2d::Same),
    ];
    let x0 = random([2, 3, 9, 10]);
    for (i, config) in configs.into_iter().enumerate() {
        let burns = BurnConfig::new(config.kernel_size)
            .with_strides(config.strides)
            .with_padding(config.padding.clone())
            .with_dilation(config.dilation)
            .init();
        let ours: MaxPool2d = config.init();
        let run = |f: &dyn Fn(Tensor<AD, 4>) -> Tensor<AD, 4>| {
            let x = Tensor::<AD, 4>::from_data(x0.clone(), &dev).require_grad();
            let y = f(x.clone());
            let r = Tensor::<AD, 4>::random(y.dims(), Distribution::Default, &dev);
            let r = Tensor::<AD, 4>::from_data(r.into_data(), &dev);
            (y, x, r)
        };
        let (y, x, r) = run(&|x| ours.forward(x));
        let (yb, xb, _) = run(&|x| burns.forward(x));
        let g = (y.clone() * r.clone()).sum().backward();
        let gb = (yb.clone() * r).sum().backward();
        assert_close(&format!("pool {i}: y"), y.into_data(), yb.into_data(), 1e-6);
        assert_close(
            &format!("pool {i}: dx"),
            x.grad(&g).unwrap().into_data(),
            xb.grad(&gb).unwrap().into_data(),
            1e-6,
        );
    }
    let ceil = MaxPool2dConfig::new([2, 2])
        .with_ceil_mode(true)
        .try_init()
        .map(|_| ());
    assert_eq!(
        ceil,
        Err(ConfigError::Unsupported {
            module: "MaxPool2d",
            setting: "ceil_mode"
        })
    );
}
