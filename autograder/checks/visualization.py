"""Hidden checks for the network visualization part (cs231n/net_visualization_pytorch.py).

SqueezeNet is far too slow for hidden checks, and what is checked does not depend
on the network: every check runs on a tiny float64 CNN (3x3 convolution, ReLU,
max pool, linear layer to 1000 classes, like SqueezeNet's output) whose weights,
like the images, are drawn from the hidden seed. Student functions get what the
canonical docstrings document: images (N, 3, H, W) and a LongTensor of labels for
the saliency maps, one (1, 3, 224, 224) image and an int class for the fooling
image, a (1, 3, H, W) leaf that requires grad (as in the notebook's loop) for the
class-visualization step.

- Saliency maps are compared with the reference's on the same inputs.
- A fooling image is judged by what makes it one: the network (rebuilt here, on
  the trusted side) predicts the target on it, and it is about as close to the
  input as the reference's (one step more is fine: a stopping test placed after
  the step). Targets are chosen so that the reference needs a few steps, far
  from any near-tie, whatever the loop's form (for, while, test before or after).
- The class-visualization step is judged step by step against both steps the
  canonical TODO admits ("a gradient step using the learning rate"): the plain
  `img + lr * g` and the normalised `img + lr * g / ||g||`, with g the gradient of
  `score - l2_reg * ||img||^2` computed here, at the student's own image before
  each step. Two steps catch a gradient that is not reset between calls (this
  check's network uses tanh, so that the gradient turns between the steps).

Properties that degenerate outputs also have (the input left untouched, a small
change) earn points only together with the value they qualify.
"""
import numpy as np
import torch
import torch.nn.functional as F

from autograder.checks.core import Check, Criterion, Spec, compare_arrays, not_degenerate, register, torch_output

MODULES = ("net_visualization_pytorch",)
TOL = 1e-7  # float64 throughout; correct code lands near 1e-14
NUM_CLASSES = 1000  # as SqueezeNet's ImageNet scores (canonical code may assume it)
FOOLING_LR = 1.0  # make_fooling_image's step length (L2 norm), fixed by the canonical code
FOOLING_SIZE = 224  # the canonical docstring's image: (1, 3, 224, 224)
FOOLING_STEPS = (4, 30)  # the reference's number of steps on a hidden problem


class TinyCNN(torch.nn.Module):
    """conv 3x3 (3 -> K, padding 1, stride s) -> ReLU (or tanh) -> max pool p -> flatten
    -> linear (-> C).

    float64, eval mode, frozen parameters (as load_squeezenet's model), built
    from NumPy arrays so that no random stream of torch is involved.
    """

    def __init__(self, conv_w, conv_b, fc_w, fc_b, stride=1, pool=2, smooth=False):
        super().__init__()
        for name, value in (("conv_w", conv_w), ("conv_b", conv_b), ("fc_w", fc_w), ("fc_b", fc_b)):
            array = torch.tensor(np.asarray(value, dtype=np.float64))
            self.register_parameter(name, torch.nn.Parameter(array, requires_grad=False))
        self.stride, self.pool, self.smooth = int(stride), int(pool), bool(smooth)
        self.eval()

    def forward(self, x):
        h = F.conv2d(x, self.conv_w, self.conv_b, padding=1, stride=self.stride)
        h = torch.tanh(h) if self.smooth else F.relu(h)
        return F.max_pool2d(h, self.pool).flatten(1) @ self.fc_w.T + self.fc_b


def tiny_cnn(problem):
    return TinyCNN(problem["conv_w"], problem["conv_b"], problem["fc_w"], problem["fc_b"],
                   problem["stride"], problem["pool"], problem["smooth"])


def tiny_problem(rng, N, size=None, smooth=False):
    """Random weights of a TinyCNN and N images (3, H, W): small, H != W, unless size."""
    if size is None:
        H, W = int(rng.choice([6, 8])), int(rng.choice([10, 12]))
        stride, pool = 1, 2
    else:
        H = W = size
        stride, pool = 2, 8  # 224 -> 112 -> 14
    K = int(rng.integers(3, 6))
    features = K * (H // stride // pool) * (W // stride // pool)
    return {
        "conv_w": rng.standard_normal((K, 3, 3, 3)) / np.sqrt(27),
        "conv_b": 0.1 * rng.standard_normal(K),
        "fc_w": rng.standard_normal((NUM_CLASSES, features)) / np.sqrt(features),
        "fc_b": 0.1 * rng.standard_normal(NUM_CLASSES),
        "stride": np.array(stride),
        "pool": np.array(pool),
        "smooth": np.array(int(smooth)),
        "X": rng.standard_normal((N, 3, H, W)),
    }


def scores_of(problem, X):
    """The TinyCNN's scores (N, C) for images X (trusted side), as NumPy."""
    with torch.no_grad():
        return tiny_cnn(problem)(torch.tensor(np.asarray(X, dtype=np.float64))).numpy()


def predictions(problem, X):
    """The TinyCNN's predicted classes for images X (trusted side)."""
    return scores_of(problem, X).argmax(axis=1)


def ascent_step(problem, img, target, l2_reg, learning_rate, normalise):
    """img (1, 3, H, W) after one ascent step on score - l2_reg * ||img||^2 (trusted side)."""
    x = torch.tensor(np.asarray(img, dtype=np.float64)).requires_grad_(True)
    objective = tiny_cnn(problem)(x)[0, target] - l2_reg * (x * x).sum()
    (g,) = torch.autograd.grad(objective, x)
    step = g / g.norm() if normalise else g
    return (x.detach() + learning_rate * step).numpy()


def fooling_path(problem, target, max_steps):
    """(steps, smallest |margin|, smallest ||g||) of normalised ascent from problem's
    image to ``target`` (trusted side): steps is None when the target is not predicted
    within max_steps. The margin is the target's score minus the best other score,
    before each step and at the end; g the target score's gradient at each step."""
    model = tiny_cnn(problem)
    x = torch.tensor(problem["X"])
    margin = norm = np.inf
    for step in range(max_steps + 1):
        x = x.detach().requires_grad_(True)
        scores = model(x)[0]
        values = scores.detach()
        others = torch.cat([values[:target], values[target + 1:]])
        margin = min(margin, abs(float(values[target] - others.max())))
        if int(scores.argmax()) == target:
            return step, margin, norm
        if step == max_steps:
            return None, margin, norm
        (g,) = torch.autograd.grad(scores[target], x)
        norm = min(norm, float(g.norm()))
        x = x.detach() + FOOLING_LR * g / g.norm()
    return None, margin, norm


@register
class SaliencyMaps(Check):
    name = "saliency_maps"
    modules = MODULES
    outputs = {"saliency": Spec("float", shape=("X.shape[0]", "X.shape[2]", "X.shape[3]")),
               "X_after": Spec("float", like="X")}

    def inputs(self, rng):
        problem = tiny_problem(rng, N=int(rng.integers(2, 5)))
        problem["y"] = rng.integers(0, NUM_CLASSES, size=problem["X"].shape[0])
        return problem

    def run(self, cs231n, i):
        X = torch.tensor(i["X"])
        saliency = cs231n.net_visualization_pytorch.compute_saliency_maps(
            X, torch.tensor(i["y"]), tiny_cnn(i))
        return {"saliency": torch_output(saliency, "compute_saliency_maps' result"),
                "X_after": torch_output(X, "X")}

    def score(self, got, expected, inputs):
        saliency = got.get("saliency")
        untouched = np.array_equal(got.get("X_after"), inputs["X"])
        return [
            not_degenerate("saliency", saliency),
            compare_arrays("saliency", saliency, expected["saliency"], TOL),
            # Qualifies the map: an all-zero map leaves X untouched too.
            Criterion("X untouched", untouched, "X is left unchanged" if untouched else
                 "compute_saliency_maps changed the values of its input X: work on a copy "
                 "(setting requires_grad on X is fine)", weight=0.5, needs=("saliency",)),
        ]


@register
class FoolingImage(Check):
    name = "fooling_image"
    modules = MODULES
    outputs = {"X_fooling": Spec("float", like="X"), "X_after": Spec("float", like="X")}

    def inputs(self, rng):
        while True:
            problem = tiny_problem(rng, N=1, size=FOOLING_SIZE)
            ranking = np.argsort(-scores_of(problem, problem["X"])[0])
            for rank in rng.permutation(np.arange(5, 60))[:6]:
                target = int(ranking[rank])
                steps, margin, norm = fooling_path(problem, target, FOOLING_STEPS[1])
                # A few steps (a capped loop of the student's reaches it, a crawling
                # one does not), and no near-tie anywhere on the way: the boundary is
                # at least 1e-4 away (margin / ||g||), so rounding in a student's
                # equivalent code cannot change when the loop stops.
                if steps is None or steps < FOOLING_STEPS[0] or margin < 1e-4 * norm:
                    continue
                # Scaling every score changes neither the predictions nor a normalised
                # step, but makes every gradient on the way 50 to 150 long: a step that
                # forgets to normalise overshoots, one divided by ||g||^2 crawls.
                scale = rng.uniform(50, 150) / norm
                problem["fc_w"] *= scale
                problem["fc_b"] *= scale
                problem["target"] = np.array(target)
                return problem

    def run(self, cs231n, i):
        X = torch.tensor(i["X"])
        X_fooling = cs231n.net_visualization_pytorch.make_fooling_image(X, int(i["target"]), tiny_cnn(i))
        return {"X_fooling": torch_output(X_fooling, "make_fooling_image's result"),
                "X_after": torch_output(X, "X")}

    def score(self, got, expected, inputs):
        X, target = inputs["X"], int(inputs["target"])
        X_fooling = got.get("X_fooling")
        parts = [not_degenerate("X_fooling", X_fooling, unchanged=(X,))]
        if parts[0].ok and X_fooling.shape != X.shape:
            parts[0] = Criterion("X_fooling", False, f"X_fooling has shape {X_fooling.shape}; expected the "
                                                f"input's {X.shape}", weight=0.0, fatal=True)
        if not parts[0].ok:
            return parts + [Criterion("fooled", False, "fooled: not judged", weight=2),
                            Criterion("small change", False, "small change: not judged", needs=("fooled",)),
                            Criterion("X untouched", False, "X untouched: not judged", weight=0.5,
                                 needs=("fooled",))]
        predicted = int(predictions(inputs, X_fooling)[0])
        fooled = predicted == target
        parts.append(Criterion("fooled", fooled, f"the network predicts the target class {target}" if fooled
                          else f"the network predicts class {predicted} on your image, not the target "
                               f"{target}", weight=2))
        change = float(np.linalg.norm(X_fooling - X))
        reference = float(np.linalg.norm(expected["X_fooling"] - X))
        # One step more than the reference is fine (a stopping test placed after the step).
        small = change <= reference + 1.01 * FOOLING_LR
        parts.append(Criterion("small change", small,
                          f"relative change {change / float(np.linalg.norm(X)):.2e}" if small else
                          f"your image differs from the input by {change:.3g} (L2), the reference's by "
                          f"{reference:.3g}: take normalised steps (learning_rate * g / ||g||_2) and "
                          f"stop as soon as the target is predicted", needs=("fooled",)))
        untouched = np.array_equal(got.get("X_after"), X)
        parts.append(Criterion("X untouched", untouched, "X is left unchanged" if untouched else
                          "make_fooling_image changed its input X: start from a copy (X.clone())",
                          weight=0.5, needs=("fooled",)))
        return parts


@register
class ClassVisualizationStep(Check):
    name = "class_visualization_step"
    modules = MODULES
    outputs = {"img1": Spec("float", like="X"), "img2": Spec("float", like="X")}
    steps = 2  # a second step catches gradients that pile up between calls
    variants = (("plain step img + learning_rate * g", False),
                ("normalised step img + learning_rate * g / ||g||", True))

    def inputs(self, rng):
        # tanh, not ReLU: the gradient of a piecewise linear network often keeps its
        # direction over a step (the L2 term's change is parallel to the step), and
        # then a normalised step with a gradient that is not reset looks right.
        problem = tiny_problem(rng, N=1, smooth=True)
        problem.update(target=np.array(int(rng.integers(0, NUM_CLASSES))),
                       l2_reg=np.array(float(rng.uniform(0.02, 0.2))),
                       learning_rate=np.array(float(rng.uniform(0.5, 3.0))))
        return problem

    def run(self, cs231n, i):
        # As in the notebook's loop: the image is a leaf that requires grad.
        img = torch.tensor(i["X"]).requires_grad_(True)
        model = tiny_cnn(i)
        outputs = {}
        for k in range(1, self.steps + 1):
            cs231n.net_visualization_pytorch.class_visualization_update_step(
                img, model, int(i["target"]), float(i["l2_reg"]), float(i["learning_rate"]))
            outputs[f"img{k}"] = torch_output(img, "img").copy()
        return outputs

    def _step_part(self, label, got, before, inputs, needs=()):
        """Does ``got`` equal one admissible step from ``before``? (a Criterion)."""
        errors = []
        for name, normalise in self.variants:
            candidate = ascent_step(inputs, before, int(inputs["target"]), float(inputs["l2_reg"]),
                                    float(inputs["learning_rate"]), normalise)
            part = compare_arrays(label, got, candidate, TOL)
            if part.ok:
                return Criterion(label, True, f"{label}: the {name}", needs=needs)
            errors.append(f"the {name}: {part.detail.split(': ', 1)[-1]}")
        return Criterion(label, False, f"{label} is neither admissible step, with g the gradient of "
                                  f"score - l2_reg * ||img||^2 (" + "; ".join(errors) + ")", needs=needs)

    def score(self, got, expected, inputs):
        X = inputs["X"]
        img1, img2 = got.get("img1"), got.get("img2")
        parts = [not_degenerate("img after the first step", img1, unchanged=(X,))]
        if not parts[0].ok:
            parts[0].detail += " (update img in place: no new tensor)" if np.array_equal(img1, X) else ""
            return parts + [Criterion("first step", False, "first step: not judged"),
                            Criterion("second step", False, "second step: not judged", needs=("first step",))]
        parts.append(self._step_part("first step", img1, X, inputs))
        if parts[-1].ok and np.shape(img2) == X.shape:
            second = self._step_part("second step", img2, img1, inputs, needs=("first step",))
            if not second.ok:
                second.detail += (" -- the first call was right: does img.grad still hold its gradient "
                                  "(reset it after each step)?")
            parts.append(second)
        else:
            parts.append(Criterion("second step", False, "second step: not judged", needs=("first step",)))
        return parts
