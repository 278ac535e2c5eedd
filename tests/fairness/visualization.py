"""Fairness corpus, visualization part: see tests/fairness/__init__.py.

The alternatives are written the way students fill in the canonical file: its
provided lines (`model.eval()`, `X.requires_grad_()` on the input itself,
`X_fooling = X.clone().requires_grad_()`, `learning_rate = 1`) kept, `.backward()`
and `.grad`, `.data` updates, while loops, and both steps the class-visualization
TODO admits (plain and normalised).
"""
from fairness.alternative import Alternative, Degenerate

V = "cs231n/net_visualization_pytorch.py"
SAL, FOOL, STEP = f"{V}:compute_saliency_maps", f"{V}:make_fooling_image", f"{V}:class_visualization_update_step"

# Top-level names the official starter file defines (imports included).
CANONICAL_NAMES = {
    V: {"torch", "random", "T", "np", "SQUEEZENET_MEAN", "SQUEEZENET_STD", "gaussian_filter1d",
        "compute_saliency_maps", "make_fooling_image", "class_visualization_update_step",
        "preprocess", "deprocess", "rescale", "blur_image", "jitter"},
}

ALTERNATIVES = [
    # ------------------------------------------------------------ compute_saliency_maps
    Alternative("vis-saliency-input-requires-grad-gather", SAL, '''
def compute_saliency_maps(X, y, model):
    model.eval()
    X.requires_grad_()
    saliency = None
    out = model(X)
    picked = out.gather(1, y.view(-1, 1)).squeeze()
    picked.sum().backward()
    saliency = X.grad.abs().max(dim=1)[0]
    return saliency
''', "requires_grad_ on the caller's X, gather, .backward() on the sum, .max(dim=1)[0]"),
    Alternative("vis-saliency-one-hot-backward", SAL, '''
def compute_saliency_maps(X, y, model):
    model.eval()
    X.requires_grad_()
    scores = model(X)
    one_hot = torch.zeros_like(scores)
    one_hot[torch.arange(X.shape[0]), y] = 1.0
    scores.backward(gradient=one_hot)
    return torch.amax(X.grad.data.abs(), dim=1)
''', "one-hot upstream gradient into scores.backward, torch.amax"),
    Alternative("vis-saliency-loop-over-images", SAL, '''
def compute_saliency_maps(X, y, model):
    model.eval()
    maps = []
    for i in range(X.shape[0]):
        xi = X[i:i + 1].clone().detach().requires_grad_(True)
        model(xi)[0, y[i]].backward()
        maps.append(xi.grad[0].abs().max(dim=0).values)
    return torch.stack(maps)
''', "a Python loop over the batch, one backward per image"),
    Alternative("vis-saliency-indexing-autograd-grad", SAL, '''
def compute_saliency_maps(X, y, model):
    X_in = X.clone().requires_grad_(True)
    scores = model(X_in)
    rows = torch.arange(scores.shape[0])
    grads = torch.autograd.grad(scores[rows, y].sum(), X_in)[0]
    saliency, _ = torch.max(torch.abs(grads), dim=1)
    return saliency
''', "advanced indexing scores[arange, y], torch.autograd.grad, torch.max tuple"),
    Alternative("vis-saliency-ones-like-backward", SAL, '''
def compute_saliency_maps(X, y, model):
    model.eval()
    X.requires_grad_()
    correct = model(X).gather(1, y.unsqueeze(1)).squeeze(1)
    correct.backward(torch.ones_like(correct))
    return X.grad.abs().amax(1)
''', "backward(ones_like) on the vector of correct scores"),

    # ------------------------------------------------------------ make_fooling_image
    Alternative("vis-fooling-while-backward-zero-grad", FOOL, '''
def make_fooling_image(X, target_y, model):
    X_fooling = X.clone()
    X_fooling = X_fooling.requires_grad_()
    learning_rate = 1
    while True:
        scores = model(X_fooling)
        if scores.argmax(dim=1)[0] == target_y:
            break
        scores[0, target_y].backward()
        g = X_fooling.grad
        with torch.no_grad():
            X_fooling += learning_rate * g / g.norm()
        X_fooling.grad.zero_()
    return X_fooling
''', "canonical provided lines, an unbounded while loop, in-place += under no_grad, grad.zero_()"),
    Alternative("vis-fooling-test-after-step-data", FOOL, '''
def make_fooling_image(X, target_y, model):
    X_fooling = X.clone()
    X_fooling = X_fooling.requires_grad_()
    learning_rate = 1
    for it in range(100):
        score = model(X_fooling)[0, target_y]
        score.backward()
        grad = X_fooling.grad.data
        X_fooling.data += learning_rate * grad / torch.sqrt(torch.sum(grad ** 2))
        X_fooling.grad.data.zero_()
        if model(X_fooling).data.max(1)[1][0].item() == target_y:
            print('fooled after', it + 1, 'iterations')
            break
    return X_fooling
''', "step first, then a fresh forward pass decides; .data updates; sqrt of the sum of squares"),
    Alternative("vis-fooling-stale-prediction", FOOL, '''
def make_fooling_image(X, target_y, model):
    X_fooling = X.clone()
    X_fooling = X_fooling.requires_grad_()
    learning_rate = 1
    for _ in range(100):
        scores = model(X_fooling)
        predicted = scores.argmax().item()
        X_fooling.grad = None
        scores[0, target_y].backward()
        with torch.no_grad():
            X_fooling.add_(learning_rate * X_fooling.grad / X_fooling.grad.norm())
        if predicted == target_y:
            break
    return X_fooling
''', "the stopping test uses the prediction from before the step (one step more)"),
    Alternative("vis-fooling-autograd-fresh-leaf", FOOL, '''
def make_fooling_image(X, target_y, model):
    X_fooling = X.clone().requires_grad_()
    learning_rate = 1
    scores = model(X_fooling)
    while scores.max(1)[1].item() != target_y:
        g, = torch.autograd.grad(scores[0, target_y], X_fooling)
        X_fooling = (X_fooling + learning_rate * g / torch.linalg.norm(g)).detach().requires_grad_()
        scores = model(X_fooling)
    return X_fooling.detach()
''', "torch.autograd.grad and a fresh leaf per step, while on scores.max(1)[1]"),
    Alternative("vis-fooling-numpy-style-norm", FOOL, '''
def make_fooling_image(X, target_y, model):
    X_fooling = X.clone()
    X_fooling = X_fooling.requires_grad_()
    learning_rate = 1
    i = 0
    while i < 100 and torch.argmax(model(X_fooling)) != target_y:
        model.zero_grad()
        if X_fooling.grad is not None:
            X_fooling.grad.zero_()
        model(X_fooling)[:, target_y].sum().backward()
        dX = learning_rate * X_fooling.grad / X_fooling.grad.norm(p=2)
        X_fooling.data.add_(dX)
        i += 1
    return X_fooling
''', "a while loop with a counter, model.zero_grad(), norm(p=2)"),

    # ------------------------------------------------------------ class_visualization_update_step
    Alternative("vis-step-plain-backward-zero", STEP, '''
def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    scores = model(img)
    objective = scores[0, target_y] - l2_reg * torch.sum(img ** 2)
    objective.backward()
    with torch.no_grad():
        img += learning_rate * img.grad
    img.grad.zero_()
''', "plain step lr * g, L2 term by autograd, with torch.no_grad(): img += ..., grad.zero_()"),
    Alternative("vis-step-plain-by-hand-data", STEP, '''
def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    score = model(img)[:, target_y]
    score.backward()
    g = img.grad.data - 2 * l2_reg * img.data
    img.data += learning_rate * g
    img.grad.data.zero_()
''', "plain step, L2 gradient 2 * l2_reg * img by hand, img.data += ..."),
    Alternative("vis-step-normalised-grad-none", STEP, '''
def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    target_score = model(img)[0, target_y]
    regularised = target_score - l2_reg * img.norm() ** 2
    regularised.backward()
    g = img.grad
    img.data += learning_rate * g / g.norm()
    img.grad = None
''', "normalised step, ||img||^2 as norm() ** 2, img.grad = None"),
    Alternative("vis-step-normalised-by-hand-autograd", STEP, '''
def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    (dscore,) = torch.autograd.grad(model(img)[0, target_y], img)
    g = dscore - 2.0 * l2_reg * img.detach()
    with torch.no_grad():
        img += learning_rate * g / torch.linalg.norm(g)
''', "torch.autograd.grad on the score, L2 gradient by hand, normalised step"),
    Alternative("vis-step-sgd-optimizer", STEP, '''
def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    optimizer = torch.optim.SGD([img], lr=learning_rate)
    optimizer.zero_grad()
    loss = -(model(img)[0, target_y] - l2_reg * (img * img).sum())
    loss.backward()
    optimizer.step()
''', "torch.optim.SGD on the image, minimising the negated objective"),
    Alternative("vis-step-reset-before", STEP, '''
def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    if img.grad is not None:
        img.grad.zero_()
    out = model(img)
    (out[0, target_y] - l2_reg * img.pow(2).sum()).backward()
    img.data.add_(learning_rate * img.grad.data)
''', "the gradient reset at the start of the call instead of the end"),
]

DEGENERATE = [
    Degenerate("vis-saliency-all-zero", SAL, '''
def compute_saliency_maps(X, y, model):
    X.requires_grad_()
    return torch.zeros(X.shape[0], X.shape[2], X.shape[3], dtype=X.dtype)
''', zero=("saliency_maps",), what="an all-zero map (X untouched, shape and dtype right)"),
    Degenerate("vis-saliency-constant", SAL, '''
def compute_saliency_maps(X, y, model):
    return torch.ones(X.shape[0], X.shape[2], X.shape[3], dtype=X.dtype)
''', zero=("saliency_maps",), what="a constant map"),
    Degenerate("vis-saliency-nan", SAL, '''
def compute_saliency_maps(X, y, model):
    return torch.full((X.shape[0], X.shape[2], X.shape[3]), float("nan"), dtype=X.dtype)
''', zero=("saliency_maps",), what="a map of NaN"),
    Degenerate("vis-fooling-returns-input", FOOL, '''
def make_fooling_image(X, target_y, model):
    X_fooling = X.clone()
    X_fooling = X_fooling.requires_grad_()
    return X_fooling
''', zero=("fooling_image",), what="the input returned unchanged (X untouched, shape right)"),
    Degenerate("vis-fooling-tiny-change", FOOL, '''
def make_fooling_image(X, target_y, model):
    return X + 1e-3
''', zero=("fooling_image",), what="the input changed a little (X + 1e-3)"),
    Degenerate("vis-step-no-op", STEP, '''
def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    scores = model(img)
''', zero=("class_visualization_step",), what="img left as it was"),
    Degenerate("vis-step-tiny-change", STEP, '''
def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    img.data += 1e-3
''', zero=("class_visualization_step",), what="img changed a little (img + 1e-3 per call)"),
    Degenerate("vis-step-new-tensor", STEP, '''
def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    (model(img)[0, target_y] - l2_reg * (img * img).sum()).backward()
    img = img + learning_rate * img.grad
''', zero=("class_visualization_step",), what="a new tensor instead of an in-place update"),
]
