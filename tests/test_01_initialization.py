"""Chapter 01: ``scratchnn.initializers`` against ``keras.initializers``.

NumPy and TensorFlow use different random generators, so raw draws never match. Parity is
statistical: for each initializer and shape, our draws and Keras's draws (fixed seeds, so
every test is deterministic) must agree in

- std:    relative difference ≤ 3 % (about 5 standard errors for ~30,000 draws),
- bounds: for bounded distributions, the largest |w| within 2 % of Keras's,
- KS:     a two-sample Kolmogorov–Smirnov test does not reject at p < 0.001,
- mean:   within 6 standard errors.

The tests at the end prove the checks have power: deliberately broken initializers (the
untruncated normal instead of the truncated one, fan_out instead of fan_in, and a missing
0.8796 correction factor) must fail them.
"""

import inspect
import math

import keras
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from keras.src.initializers.random_initializers import compute_fans as keras_compute_fans

from scratchnn import initializers as ini

# A Dense kernel and a convolution kernel, each with fan_in ≠ fan_out, ~30,000 entries.
SHAPES = [(256, 128), (3, 3, 32, 96)]


def draw(init, shape):
    return np.ravel(keras.ops.convert_to_numpy(init(shape))).astype(np.float64)


# ---------------------------------------------------------------------------------------
# The four checks. Each raises AssertionError whose message starts with the check's name.


def check_mean(a, b):
    se = math.sqrt(a.var() / a.size + b.var() / b.size)
    assert abs(a.mean() - b.mean()) <= 6 * se, f"mean: {a.mean():.4g} vs Keras {b.mean():.4g}"


def check_std(a, b):
    rel = abs(a.std() / b.std() - 1)
    assert rel <= 0.03, f"std: {a.std():.4g} vs Keras {b.std():.4g} ({rel:.1%} off)"


def check_bounds(a, b):
    ratio = np.abs(a).max() / np.abs(b).max()
    assert abs(ratio - 1) <= 0.02, (
        f"bounds: max|w| {np.abs(a).max():.4g} vs Keras {np.abs(b).max():.4g}"
    )


def check_ks(a, b):
    result = scipy.stats.ks_2samp(a, b)
    assert result.pvalue >= 1e-3, f"ks: D = {result.statistic:.4f}, p = {result.pvalue:.1e}"


CHECKS = {"mean": check_mean, "std": check_std, "bounds": check_bounds, "ks": check_ks}


def run_checks(ours, theirs, shape, bounded):
    a, b = draw(ours, shape), draw(theirs, shape)
    for name, check in CHECKS.items():
        if name != "bounds" or bounded:
            check(a, b)


# ---------------------------------------------------------------------------------------
# Statistical parity of every random initializer.

# id -> (factory(module, seed) -> initializer, bounded). The same factory builds ours from
# scratchnn.initializers and theirs from keras.initializers, so the arguments are identical.
CASES = {
    "RandomNormal": (lambda m, s: m.RandomNormal(seed=s), False),
    "RandomNormal(mean=0.3, stddev=2)": (
        lambda m, s: m.RandomNormal(mean=0.3, stddev=2.0, seed=s),
        False,
    ),
    "RandomUniform": (lambda m, s: m.RandomUniform(seed=s), True),
    "RandomUniform(0, 3)": (lambda m, s: m.RandomUniform(minval=0.0, maxval=3.0, seed=s), True),
    "TruncatedNormal": (lambda m, s: m.TruncatedNormal(seed=s), True),
    "TruncatedNormal(mean=1, stddev=0.5)": (
        lambda m, s: m.TruncatedNormal(mean=1.0, stddev=0.5, seed=s),
        True,
    ),
    "GlorotUniform": (lambda m, s: m.GlorotUniform(seed=s), True),
    "GlorotNormal": (lambda m, s: m.GlorotNormal(seed=s), True),
    "HeUniform": (lambda m, s: m.HeUniform(seed=s), True),
    "HeNormal": (lambda m, s: m.HeNormal(seed=s), True),
    "LecunUniform": (lambda m, s: m.LecunUniform(seed=s), True),
    "LecunNormal": (lambda m, s: m.LecunNormal(seed=s), True),
    "Orthogonal": (lambda m, s: m.Orthogonal(seed=s), False),
    "Orthogonal(gain=2)": (lambda m, s: m.Orthogonal(gain=2.0, seed=s), False),
}
for _mode in ["fan_in", "fan_out", "fan_avg"]:
    for _dist in ["truncated_normal", "untruncated_normal", "uniform"]:
        CASES[f"VarianceScaling(0.5, {_mode}, {_dist})"] = (
            lambda m, s, mode=_mode, dist=_dist: m.VarianceScaling(0.5, mode, dist, seed=s),
            _dist != "untruncated_normal",
        )


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("case", list(CASES))
def test_matches_keras_statistically(case, shape):
    factory, bounded = CASES[case]
    run_checks(factory(ini, 1), factory(keras.initializers, 1), shape, bounded)


@pytest.mark.parametrize(
    "name",
    ["GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal"],
)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_std_is_the_papers_target(name, shape):
    """Independently of Keras: the std after truncation is √(scale / n) (within 3 %)."""
    fan_in, fan_out = ini.compute_fans(shape)
    scale, n = {
        "Glorot": (1.0, (fan_in + fan_out) / 2),
        "He": (2.0, fan_in),
        "Lecun": (1.0, fan_in),
    }[name.replace("Uniform", "").replace("Normal", "")]
    w = getattr(ini, name)(seed=3)(shape)
    assert abs(w.std() / math.sqrt(scale / n) - 1) <= 0.03


def test_truncation_constant_is_the_std_of_the_truncated_standard_normal():
    assert abs(ini.TRUNCATED_NORMAL_STD - scipy.stats.truncnorm(-2, 2).std()) < 1e-12


@pytest.mark.parametrize("shape", [(256, 128), (128, 256), (3, 3, 16, 32), (4, 8, 8)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal_is_orthonormal_times_gain(shape, gain):
    w = ini.Orthogonal(gain=gain, seed=0)(shape, dtype="float64").reshape(-1, shape[-1])
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(len(gram)), atol=1e-6)
    w32 = ini.Orthogonal(gain=gain, seed=0)(shape).reshape(-1, shape[-1])
    assert w32.dtype == np.float32
    gram32 = w32.T @ w32 if w32.shape[0] >= w32.shape[1] else w32 @ w32.T
    np.testing.assert_allclose(gram32, gain**2 * np.eye(len(gram32)), atol=1e-5 * gain**2)


def test_orthogonal_rejects_vectors():
    with pytest.raises(ValueError):
        ini.Orthogonal()((5,))


# ---------------------------------------------------------------------------------------
# Deterministic parts: constants, fans, API.


@pytest.mark.parametrize(
    "name,args", [("Zeros", ()), ("Ones", ()), ("Constant", (0.7,)), ("Constant", ())]
)
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), (7,)], ids=str)
def test_constants_equal_keras_exactly(name, args, shape):
    ours = getattr(ini, name)(*args)(shape)
    theirs = keras.ops.convert_to_numpy(getattr(keras.initializers, name)(*args)(shape))
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


shapes = st.lists(st.integers(1, 9), min_size=0, max_size=5).map(tuple)


@settings(max_examples=200, deadline=None)
@given(shapes)
def test_compute_fans_matches_keras(shape):
    assert ini.compute_fans(shape) == keras_compute_fans(shape)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=2, max_size=5).map(tuple))
def test_conv_fans_multiply_channels_by_receptive_field(shape):
    fan_in, fan_out = ini.compute_fans(shape)
    receptive_field = math.prod(shape[:-2])
    assert (fan_in, fan_out) == (shape[-2] * receptive_field, shape[-1] * receptive_field)
    assert fan_in * shape[-1] == fan_out * shape[-2]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=2, max_size=4).map(tuple), st.data())
def test_compute_fans_with_explicit_axes_matches_keras(shape, data):
    axes = list(range(len(shape)))
    input_axes = data.draw(st.lists(st.sampled_from(axes), min_size=1, max_size=2, unique=True))
    output_axes = data.draw(st.lists(st.sampled_from(axes), min_size=1, max_size=2, unique=True))
    assert ini.compute_fans(shape, input_axes, output_axes) == keras_compute_fans(
        shape, input_axes, output_axes
    )


@settings(max_examples=100, deadline=None)
@given(shapes, st.sampled_from(["fan_in", "fan_out", "fan_avg"]), st.floats(0.1, 4.0))
def test_variance_is_scale_over_the_chosen_fan(shape, mode, scale):
    fan_in, fan_out = keras_compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    assert ini.VarianceScaling(scale, mode).variance(shape) == pytest.approx(scale / max(1.0, n))


CLASSES = [
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "Orthogonal",
]


def _params(cls):
    return [
        (p.name, p.default)
        for p in inspect.signature(cls).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD
    ]


@pytest.mark.parametrize("name", CLASSES)
def test_constructor_arguments_and_defaults_match_keras(name):
    assert _params(getattr(ini, name)) == _params(getattr(keras.initializers, name))


@pytest.mark.parametrize(
    "name",
    [
        "zeros",
        "ones",
        "random_normal",
        "random_uniform",
        "truncated_normal",
        "variance_scaling",
        "glorot_uniform",
        "glorot_normal",
        "he_uniform",
        "he_normal",
        "lecun_uniform",
        "lecun_normal",
        "orthogonal",
        "HeNormal",
        "GlorotUniform",
    ],
)
def test_get_resolves_the_same_names_as_keras(name):  # ("constant" needs a value in Keras)
    assert type(ini.get(name)).__name__ == type(keras.initializers.get(name)).__name__


def test_get_passes_instances_through_and_rejects_unknown_names():
    init = ini.HeNormal(seed=0)
    assert ini.get(init) is init
    with pytest.raises(ValueError):
        ini.get("kaiming_normal")


@pytest.mark.parametrize(
    "kwargs", [{"scale": 0.0}, {"mode": "fan_sum"}, {"distribution": "cauchy"}]
)
def test_variance_scaling_rejects_what_keras_rejects(kwargs):
    with pytest.raises(ValueError):
        keras.initializers.VarianceScaling(**kwargs)
    with pytest.raises(ValueError):
        ini.VarianceScaling(**kwargs)


def test_normal_is_an_alias_of_truncated_normal():
    assert ini.VarianceScaling(distribution="normal").distribution == "truncated_normal"


def test_seeds_repeat_like_keras_and_dtype_defaults_to_float32():
    init = ini.HeNormal(seed=5)
    np.testing.assert_array_equal(init((4, 3)), init((4, 3)))  # same seed, same values
    assert not np.array_equal(init((4, 3)), ini.HeNormal(seed=6)((4, 3)))
    assert init((4, 3)).dtype == np.float32
    assert init((4, 3), dtype="float64").dtype == np.float64
    np.random.seed(0)
    first = ini.HeNormal()((4, 3))
    np.random.seed(0)
    np.testing.assert_array_equal(first, ini.HeNormal()((4, 3)))  # unseeded: NumPy's global seed


# ---------------------------------------------------------------------------------------
# The checks have power: each deliberate mistake fails the checks listed for it.


def _untruncated(seed):
    """HeNormal drawn from the untruncated normal (the std is still right: only the bounds and
    the KS test see it)."""
    return ini.VarianceScaling(2.0, "fan_in", "untruncated_normal", seed=seed)


def _fan_out(seed):
    """HeNormal dividing by fan_out instead of fan_in."""
    return ini.VarianceScaling(2.0, "fan_out", "truncated_normal", seed=seed)


def _missing_factor(seed, monkeypatch):
    """HeNormal without the division by 0.87962566103423978."""
    monkeypatch.setattr(ini, "TRUNCATED_NORMAL_STD", 1.0)
    return ini.HeNormal(seed=seed)


MISTAKES = {"untruncated": _untruncated, "fan_out": _fan_out, "missing_0.8796": _missing_factor}
CAUGHT_BY = {
    "untruncated": ["bounds", "ks"],
    "fan_out": ["std", "bounds", "ks"],
    "missing_0.8796": ["std", "bounds", "ks"],
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("mistake,check", [(m, c) for m, cs in CAUGHT_BY.items() for c in cs])
def test_check_catches_deliberate_mistake(mistake, check, shape, monkeypatch):
    make = MISTAKES[mistake]
    broken = make(1, monkeypatch) if mistake == "missing_0.8796" else make(1)
    a, b = draw(broken, shape), draw(keras.initializers.HeNormal(seed=1), shape)
    with pytest.raises(AssertionError, match=f"^{check}:"):
        CHECKS[check](a, b)


def test_untruncated_mistake_keeps_the_std_which_is_why_bounds_and_ks_exist():
    a = draw(_untruncated(1), SHAPES[0])
    b = draw(keras.initializers.HeNormal(seed=1), SHAPES[0])
    check_std(a, b)  # passes: a std check alone would miss this mistake
