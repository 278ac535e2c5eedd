"""Hostile cases: submissions that forge facts about themselves, or hand back
outputs built to make trusted scoring slow (issue 11, "Schemas before scoring").

A check's run reports raw behaviour only (parameters after optimizer steps,
parameter shapes, network outputs); the trusted side derives every fact and holds
the outputs to the check's declared schema before reading a value
(``autograder.checks.core.score_within``). Format: ``Case`` in tests/hostile/cases.py.
"""
from hostile.cases import GAN, THEORY, Case, chain, wrap

# get_optimizer hands back SGD, dressed as Adam every way the child can: the class
# name (torch.optim.Adam is SGD now, and isinstance says yes to Adam), the
# param_groups, and the outputs file itself (numpy.savez adds the facts an older
# run reported: class, learning rate, betas, eps, weight decay, coverage).
FORGED_OPTIMIZER = """
import builtins
import numpy
import torch
_isinstance, _savez, _adam = builtins.isinstance, numpy.savez, torch.optim.Adam
def _forged_savez(file, *arrays, **named):
    if "get_optimizer" in str(file):
        named.update(is_adam=numpy.array(True), lr=numpy.array([1e-3]), betas=numpy.array([0.5, 0.999]),
                     eps=numpy.array([1e-8]), weight_decay=numpy.array([0.0]), covers_all=numpy.array(True))
    return _savez(file, *arrays, **named)
builtins.isinstance = lambda obj, cls: True if cls is _adam else _isinstance(obj, cls)
torch.optim.Adam = torch.optim.SGD
numpy.savez = _forged_savez
optimizer = torch.optim.SGD(args[0].parameters(), lr=1e-3)
optimizer.param_groups[0].update(betas=(0.5, 0.999), eps=1e-8, weight_decay=0.0)
"""

# A discriminator and a generator far too small (one linear layer each) whose
# outputs file claims the canonical parameter counts and that the discriminator
# takes images; only gan_networks' file is touched, so every other GAN check runs
# as the reference does.
FORGED_COUNTS = """
import numpy
if not getattr(numpy.savez, "_forged", False):
    _savez = numpy.savez
    def _forged_savez(file, *arrays, **named):
        if "gan_networks" in str(file):
            named.update(d_params=numpy.array(267009), g_params=numpy.array([1858320, 1858320]),
                         d_takes_images=numpy.array(True))
        return _savez(file, *arrays, **named)
    _forged_savez._forged = True
    numpy.savez = _forged_savez
return nn.Sequential(Flatten(), nn.Linear(784, 1))
"""

TINY_GENERATOR = """
noise_dim = args[0] if args else kwargs.get("noise_dim", NOISE_DIM)
return nn.Sequential(nn.Linear(noise_dim, 784), nn.Tanh())
"""

# beam_search's first answer (beam size 1) pads its captions to 3,000,000 words of
# int8 (48 MB for 16 images, under the file cap): read by trusted decoding, one word
# at a time, such a caption once kept scoring busy for minutes. Later calls answer right.
HUGE_CAPTION = """
import numpy
captions, log_probs = _original_beam_search(*args, **kwargs)
_calls.append(1)
if len(_calls) == 1:
    wide = numpy.zeros((captions.shape[0], 3_000_000), dtype=numpy.int8)
    wide[:, :captions.shape[1]] = captions
    captions = wide
return captions, log_probs
"""


def _with_call_counter(files, ctx):
    text = files[THEORY].decode()
    return {**files, THEORY: (text + "\n\n_calls = []\n").encode()}


CASES = [
    Case("forged_optimizer_report", "get_optimizer returns SGD after making torch.optim.Adam and isinstance "
         "say Adam, setting Adam's betas in param_groups, and patching numpy.savez to add class, settings and "
         "coverage to its outputs", "raw outputs only + output schema (extra keys refused)",
         build=wrap(GAN, "get_optimizer", FORGED_OPTIMIZER, "return optimizer"),
         breaks=(f"{GAN}:get_optimizer",), messages={"get_optimizer": r"unexpected output 'betas'|not Adam's"}),
    Case("forged_parameter_counts", "discriminator and generator are one linear layer each; numpy.savez "
         "adds the canonical parameter counts and 'takes images' to gan_networks' outputs",
         "counts derived from parameter shapes on the trusted side + output schema (extra keys refused)",
         build=chain(wrap(GAN, "discriminator", FORGED_COUNTS), wrap(GAN, "generator", TINY_GENERATOR)),
         breaks=(f"{GAN}:discriminator", f"{GAN}:generator"),
         messages={"gan_networks": r"unexpected output 'd_params'|parameters: 785, expected"}),
    Case("huge_beam_caption", "beam_search's captions for beam size 1 are 3,000,000 words long (int8)",
         "output schema before trusted scoring (shape and size)",
         build=chain(wrap(THEORY, "beam_search", HUGE_CAPTION), _with_call_counter),
         breaks=(f"{THEORY}:beam_search",),
         messages={"beam_search": r"output 'a1_captions' has shape \(16, 3000000\), expected \(16, \d+\)"}),
]
