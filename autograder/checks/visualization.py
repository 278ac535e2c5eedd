"""Hidden checks for the network visualization part (cs231n/net_visualization_pytorch.py).

SqueezeNet is far too slow for hidden checks, and what is checked does not depend
on the network: every check runs on a tiny float64 CNN (3x3 convolution, ReLU,
2x2 max pool, linear layer) whose weights, like the images, are drawn from the
hidden seed (shapes drawn too). Saliency maps and the class-visualization step
are compared with the reference's on the same inputs. A fooling image is judged
by what makes it one: the network (rebuilt here, on the trusted side) predicts
the target on it, it is about as close to the input as the reference's, and it
is a tensor of the input's shape and dtype, the input left untouched.
"""
import numpy as np
import torch
import torch.nn.functional as F

from autograder.checks.core import Check, Part, compare_arrays, register, torch_output

MODULES = ("net_visualization_pytorch",)
TOL = 1e-7  # float64 throughout; correct code lands near 1e-14
FOOLING_LR = 1.0  # make_fooling_image's default step length (L2 norm)


class TinyCNN(torch.nn.Module):
    """conv 3x3 (3 -> K, padding 1) -> ReLU -> 2x2 max pool -> flatten -> linear (-> C).

    float64, eval mode, frozen parameters (as load_squeezenet's model), built
    from NumPy arrays so that no random stream of torch is involved.
    """

    def __init__(self, conv_w, conv_b, fc_w, fc_b):
        super().__init__()
        for name, value in (("conv_w", conv_w), ("conv_b", conv_b), ("fc_w", fc_w), ("fc_b", fc_b)):
            array = torch.tensor(np.asarray(value, dtype=np.float64))
            self.register_parameter(name, torch.nn.Parameter(array, requires_grad=False))
        self.eval()

    def forward(self, x):
        h = F.max_pool2d(F.relu(F.conv2d(x, self.conv_w, self.conv_b, padding=1)), 2)
        return h.flatten(1) @ self.fc_w.T + self.fc_b


def tiny_cnn(problem):
    return TinyCNN(problem["conv_w"], problem["conv_b"], problem["fc_w"], problem["fc_b"])


def tiny_problem(rng, N):
    """Random weights of a TinyCNN and N images of shape (3, H, W), H != W."""
    H, W = int(rng.choice([6, 8])), int(rng.choice([10, 12]))
    K, C = int(rng.integers(3, 6)), int(rng.integers(5, 9))
    features = K * (H // 2) * (W // 2)
    return {
        "conv_w": rng.standard_normal((K, 3, 3, 3)) / np.sqrt(27),
        "conv_b": 0.1 * rng.standard_normal(K),
        "fc_w": rng.standard_normal((C, features)) / np.sqrt(features),
        "fc_b": 0.1 * rng.standard_normal(C),
        "X": rng.standard_normal((N, 3, H, W)),
    }


def predictions(problem, X):
    """The TinyCNN's predicted classes for images X (trusted side)."""
    with torch.no_grad():
        scores = tiny_cnn(problem)(torch.tensor(np.asarray(X, dtype=np.float64)))
    return scores.argmax(dim=1).numpy()


@register
class SaliencyMaps(Check):
    name = "saliency_maps"
    modules = MODULES

    def inputs(self, rng):
        problem = tiny_problem(rng, N=int(rng.integers(2, 5)))
        C = problem["fc_b"].shape[0]
        problem["y"] = rng.integers(0, C, size=problem["X"].shape[0])
        return problem

    def run(self, cs231n, i):
        X = torch.tensor(i["X"])
        saliency = cs231n.net_visualization_pytorch.compute_saliency_maps(
            X, torch.tensor(i["y"]), tiny_cnn(i))
        return {"saliency": torch_output(saliency, "compute_saliency_maps' result"),
                "X_after": torch_output(X, "X")}

    def score(self, got, expected, inputs):
        parts = [compare_arrays("saliency", got.get("saliency"), expected["saliency"], TOL)]
        untouched = np.array_equal(got["X_after"], inputs["X"])
        parts.append(Part("X untouched", untouched, "X is left unchanged" if untouched else
                          "compute_saliency_maps changed its input X: work on a copy", weight=0.5))
        return parts


@register
class FoolingImage(Check):
    name = "fooling_image"
    modules = MODULES

    def inputs(self, rng):
        problem = tiny_problem(rng, N=1)
        # Scaling every score changes neither the predictions nor a normalised
        # step, but gives gradients far longer than 1: a step that forgets to
        # normalise overshoots (it would crawl if they were far shorter).
        scale = rng.uniform(30, 100)
        problem["fc_w"] *= scale
        problem["fc_b"] *= scale
        C = problem["fc_b"].shape[0]
        predicted = int(predictions(problem, problem["X"])[0])
        problem["target"] = np.array(int(rng.choice([c for c in range(C) if c != predicted])))
        return problem

    def run(self, cs231n, i):
        X = torch.tensor(i["X"])
        X_fooling = cs231n.net_visualization_pytorch.make_fooling_image(X, int(i["target"]), tiny_cnn(i))
        return {"X_fooling": torch_output(X_fooling, "make_fooling_image's result"),
                "X_after": torch_output(X, "X")}

    def score(self, got, expected, inputs):
        X, target = inputs["X"], int(inputs["target"])
        X_fooling = got["X_fooling"]
        form_ok = X_fooling.shape == X.shape and X_fooling.dtype == X.dtype
        form = (f"a tensor of shape {X_fooling.shape} and dtype {X_fooling.dtype}" if form_ok else
                f"the result has shape {X_fooling.shape} and dtype {X_fooling.dtype}; "
                f"expected the input's {X.shape} and {X.dtype}")
        untouched = np.array_equal(got["X_after"], X)
        if not untouched:
            form_ok, form = False, "make_fooling_image changed its input X: work on a copy"
        parts = [Part("returned image", form_ok, form)]
        if not (form_ok and np.all(np.isfinite(X_fooling))):
            return parts + [Part("fooled", False, "fooled: no usable image was returned", weight=2),
                            Part("small change", False, "small change: not judged", weight=1)]
        predicted = int(predictions(inputs, X_fooling)[0])
        fooled = predicted == target
        parts.append(Part("fooled", fooled, f"the network predicts the target class {target}" if fooled
                          else f"the network predicts class {predicted} on your image, not the target "
                               f"{target}", weight=2))
        change = float(np.linalg.norm(X_fooling - X))
        reference = float(np.linalg.norm(expected["X_fooling"] - X))
        # One step more than the reference is fine (a stopping test placed after the step).
        small = 0 < change <= reference + 1.01 * FOOLING_LR
        relative = change / float(np.linalg.norm(X))
        parts.append(Part("small change", small,
                          f"relative change {relative:.2e}" if small else
                          "your image equals the input" if change == 0 else
                          f"your image differs from the input by {change:.3g} (L2), the reference's by "
                          f"{reference:.3g}: take normalised steps and stop as soon as the target "
                          f"is predicted"))
        return parts


@register
class ClassVisualizationStep(Check):
    name = "class_visualization_step"
    modules = MODULES
    steps = 2  # a second step catches gradients that pile up between calls

    def inputs(self, rng):
        problem = tiny_problem(rng, N=1)
        C = problem["fc_b"].shape[0]
        problem.update(target=np.array(int(rng.integers(0, C))),
                       l2_reg=np.array(float(rng.uniform(0.02, 0.2))),
                       learning_rate=np.array(float(rng.uniform(0.5, 3.0))))
        return problem

    def run(self, cs231n, i):
        # As in the notebook's loop: the image is a leaf that requires grad.
        img = torch.tensor(i["X"]).requires_grad_(True)
        model = tiny_cnn(i)
        for _ in range(self.steps):
            cs231n.net_visualization_pytorch.class_visualization_update_step(
                img, model, int(i["target"]), float(i["l2_reg"]), float(i["learning_rate"]))
        return {"img": torch_output(img, "img")}

    def score(self, got, expected, inputs):
        img = got.get("img")
        if img is not None and np.array_equal(img, inputs["X"]):
            return [Part("img", False, "img is unchanged: update it in place (no new tensor)")]
        return [compare_arrays("img", img, expected["img"], TOL)]
