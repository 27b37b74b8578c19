"""The SMLM networks: the paper's Deep-STORM encoder-decoder and a sub-pixel network for the same task.

* ``deep-storm`` (Nehme et al. 2018, also the network of the DeepCEL0
  paper): fully convolutional, no skip connections; every layer runs on the
  camera frame upsampled by nearest neighbours to the fine grid, so its
  sides must be multiples of 8 (three 2x2 poolings). About 6 GMAC per
  64 x 64 frame at q = 4. The shipped default of every method.
* ``subpixel``: the same conv blocks run on the camera-resolution frame and
  a last 3x3 convolution gives ``q^2`` channels that a pixel shuffle puts
  on the q-times finer grid (Shi et al. 2016). About 0.4 GMAC per 64 x 64
  frame: it trains with the paper's full schedule on 2 CPU cores and runs
  at hundreds of frames per second; the default of ``pointillist train``
  for DeepCEL0 and Deep-STORM-ReLU. Width 48 and depth 5 were chosen by
  measurement (docs/benchmarks.md, "The networks: two architectures").

A "conv block" is a 3x3 convolution without bias, batch normalisation and
ReLU. Both map normalised frames to spike maps on the fine grid and are
trained with the same losses.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DeepSTORMNet", "SubpixelNet", "ENCODER_FEATURES", "DECODER_FEATURES", "OUTPUTS", "NETWORK_METHODS",
           "ARCHITECTURE", "SUBPIXEL", "SUBPIXEL_WIDTH", "SUBPIXEL_DEPTH", "ARCHITECTURES", "ARCHITECTURE_OPTIONS",
           "default_architecture", "default_training_architecture", "fused_for_inference", "load_model",
           "spike_scale"]

ENCODER_FEATURES = (32, 64, 128, 512)
DECODER_FEATURES = (128, 64, 32)
OUTPUTS = ("linear", "relu")
#: the SMLM networks and their output activation
NETWORK_METHODS = {"deepstorm": "linear", "deepstorm-relu": "relu", "deepcel0": "relu"}
#: architecture names in the weights record: the paper's network and the sub-pixel one
ARCHITECTURE = "deep-storm"
SUBPIXEL = "subpixel"
#: ``--architecture`` choices of the CLI -> names in the weights record
ARCHITECTURE_OPTIONS = {"deepstorm": ARCHITECTURE, "subpixel": SUBPIXEL}
#: channels and conv blocks of the sub-pixel network (recorded in each weights file)
SUBPIXEL_WIDTH, SUBPIXEL_DEPTH = 48, 5


def _conv_block(n_in: int, n_out: int) -> nn.Sequential:
    conv = nn.Conv2d(n_in, n_out, kernel_size=3, padding=1, bias=False)
    nn.init.orthogonal_(conv.weight)  # as the reference Keras model
    return nn.Sequential(conv, nn.BatchNorm2d(n_out), nn.ReLU(inplace=True))


class DeepSTORMNet(nn.Module):
    """Deep-STORM network: ``(B, 1, qH, qW)`` upsampled frames to ``(B, 1, qH, qW)`` spike maps.

    Parameters
    ----------
    output : {"linear", "relu"}
        Output activation: linear for Deep-STORM, ReLU for Deep-STORM-ReLU
        and DeepCEL0.

    Examples
    --------
    >>> net = DeepSTORMNet("relu").eval()
    >>> net(torch.zeros(1, 1, 16, 24)).shape
    torch.Size([1, 1, 16, 24])
    """

    #: the input is the frame upsampled to the fine grid by pixel replication
    upsampled_input = True

    def __init__(self, output: str = "linear"):
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.output = output
        f1, f2, f3, f4 = ENCODER_FEATURES
        d1, d2, d3 = DECODER_FEATURES
        pool = nn.MaxPool2d(2)
        up = nn.Upsample(scale_factor=2, mode="nearest")
        self.body = nn.Sequential(
            _conv_block(1, f1), pool,
            _conv_block(f1, f2), pool,
            _conv_block(f2, f3), pool,
            _conv_block(f3, f4),
            up, _conv_block(f4, d1),
            up, _conv_block(d1, d2),
            up, _conv_block(d2, d3),
        )
        self.head = nn.Conv2d(d3, 1, kernel_size=1, bias=False)
        nn.init.orthogonal_(self.head.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ValueError(f"input sides must be multiples of 8, got {tuple(x.shape[-2:])}")
        out = self.head(self.body(x))
        return torch.relu(out) if self.output == "relu" else out


class SubpixelNet(nn.Module):
    """Sub-pixel network: ``(B, 1, H, W)`` camera frames to ``(B, 1, qH, qW)`` spike maps.

    ``depth`` conv blocks of ``width`` channels on the camera grid, then a
    3x3 convolution to ``q^2`` channels and a pixel shuffle to the fine
    grid. Any frame size is accepted (no pooling).

    Parameters
    ----------
    output : {"linear", "relu"}
        Output activation, as :class:`DeepSTORMNet`.
    upsample : int
        q, fine pixels per camera pixel.
    width, depth : int
        Channels and number of conv blocks on the camera grid.

    Examples
    --------
    >>> net = SubpixelNet("relu", upsample=4).eval()
    >>> net(torch.zeros(1, 1, 5, 7)).shape
    torch.Size([1, 1, 20, 28])
    """

    upsampled_input = False

    def __init__(self, output: str = "relu", upsample: int = 4, width: int = SUBPIXEL_WIDTH,
                 depth: int = SUBPIXEL_DEPTH):
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if upsample < 1 or width < 1 or depth < 1:
            raise ValueError(f"upsample, width and depth must be >= 1, got {upsample}, {width}, {depth}")
        self.output = output
        self.upsample = int(upsample)
        self.body = nn.Sequential(_conv_block(1, width), *[_conv_block(width, width) for _ in range(depth - 1)])
        shuffle = nn.Conv2d(width, self.upsample**2, kernel_size=3, padding=1, bias=False)
        nn.init.orthogonal_(shuffle.weight)
        self.head = nn.Sequential(shuffle, nn.PixelShuffle(self.upsample))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.body(x))
        return torch.relu(out) if self.output == "relu" else out


ARCHITECTURES = {ARCHITECTURE: DeepSTORMNet, SUBPIXEL: SubpixelNet}


def default_architecture(method: str) -> str:
    """The architecture of ``method``'s shipped ``METHOD.pt`` (``localize`` without ``--architecture``).

    The paper's network for every method: the sub-pixel DeepCEL0 and
    Deep-STORM-ReLU weights (``METHOD-subpixel.pt``) scatter one emitter's
    spike over pixels two apart (the loss compares only the blurred map),
    which costs them half their precision on sparse emitters
    (docs/benchmarks.md).

    Examples
    --------
    >>> default_architecture("deepstorm"), default_architecture("deepcel0")
    ('deep-storm', 'deep-storm')
    """
    return ARCHITECTURE


def default_training_architecture(method: str) -> str:
    """The architecture ``pointillist train`` builds without ``--architecture``.

    The sub-pixel network for DeepCEL0 and Deep-STORM-ReLU (it trains in
    minutes on a CPU), the paper's for Deep-STORM.

    Examples
    --------
    >>> default_training_architecture("deepcel0"), default_training_architecture("deepstorm")
    ('subpixel', 'deep-storm')
    """
    return ARCHITECTURE if method == "deepstorm" else SUBPIXEL


def fused_for_inference(net: nn.Module) -> nn.Module:
    """A copy of an eval-mode network with each batch normalisation folded into its convolution.

    The same function (up to float rounding) with one layer fewer per block:
    about 10 % faster on a CPU. The original is left unchanged.

    Parameters
    ----------
    net : DeepSTORMNet or SubpixelNet
        In eval mode (batch statistics would make the folding wrong).

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> net = SubpixelNet("relu", width=8, depth=2).eval()
    >>> x = torch.randn(1, 1, 6, 6)
    >>> bool(torch.allclose(fused_for_inference(net)(x), net(x), atol=1e-5))
    True
    """
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if net.training:
        raise ValueError("fuse only an eval-mode network (net.eval())")
    fused = copy.deepcopy(net)
    for module in fused.modules():
        if isinstance(module, nn.Sequential) and len(module) == 3 and isinstance(module[1], nn.BatchNorm2d):
            module[0] = fuse_conv_bn_eval(module[0], module[1])
            module[1] = nn.Identity()
    return fused


def load_model(path=None, *, method: str | None = None, architecture: str | None = None, device="cpu"):
    """Load SMLM network weights (``path``, or the shipped weights of ``method``), in eval mode.

    Parameters
    ----------
    path : path, optional
        Weights file from ``pointillist train``.
    method : {"deepcel0", "deepstorm", "deepstorm-relu"}, optional
        Refuse weights of another method; with ``path`` None, which shipped weights.
    architecture : {"deepstorm", "subpixel"}, optional
        With ``path`` None: the shipped weights of this architecture
        (default :func:`default_architecture`, the paper's network); with a
        path: refuse a file holding another architecture.
    device : str or torch.device

    Returns
    -------
    LoadedWeights
        ``.net`` (a :class:`DeepSTORMNet`) and ``.record`` (optics, input
        normalisation and heat-map scale in ``record.extra``).

    Examples
    --------
    >>> model = load_model(method="deepcel0")
    >>> model.record.method, model.record.optics.upsample, model.net.output
    ('deepcel0', 4, 'relu')
    """
    from ...errors import InputError
    from ...io.weights import load_weights, shipped_weights_path

    if method is not None and method not in NETWORK_METHODS:
        raise InputError(f"no network called {method!r}; choose one of {', '.join(NETWORK_METHODS)}")
    wanted = None
    if architecture is not None:
        if architecture not in ARCHITECTURE_OPTIONS:
            raise InputError(f"architecture must be one of {', '.join(ARCHITECTURE_OPTIONS)}; got {architecture!r}")
        wanted = ARCHITECTURE_OPTIONS[architecture]
    if path is None and method is not None:
        # the default architecture ships as METHOD.pt, any other as METHOD-ARCHITECTURE.pt
        name = method if wanted in (None, default_architecture(method)) else f"{method}-{architecture}"
        path = shipped_weights_path(name)
    model = load_weights(path, method=method, architectures=ARCHITECTURES, device=device)
    if wanted is not None and model.record.architecture.name != wanted:
        raise InputError(f"{path} holds a {model.record.architecture.name!r} network, not {architecture!r}; "
                         "leave out --architecture to use the network in the file")
    return model


def spike_scale(record) -> float:
    """Amplitude of one emitter in the network output: ``heat_scale / kernel_factor``.

    About 100 for DeepCEL0 and 50 for Deep-STORM (whose loss blurs the
    prediction with twice the kernel).

    Parameters
    ----------
    record : WeightsRecord
        Record of SMLM network weights (``load_model(...).record``); its
        ``extra`` holds ``heat_scale`` and ``kernel_factor``.

    Returns
    -------
    float
        The spike amplitude of one emitter, in network-output units.

    Examples
    --------
    >>> spike_scale(load_model(method="deepstorm").record)
    50.0
    """
    return float(record.extra["heat_scale"]) / float(record.extra["kernel_factor"])
