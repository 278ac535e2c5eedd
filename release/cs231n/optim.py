"""First-order update rules for training neural networks.

Every update rule has the interface

    def update(w, dw, config=None) -> (next_w, config)

- w: array of the current weights
- dw: array of the same shape: the gradient of the loss with respect to w
- config: dict of hyperparameters (learning rate, momentum, ...) and of any state
  the rule keeps between steps (velocity, moving averages, step count). Missing
  entries get the defaults listed in each rule's docstring; the same dict,
  updated, is returned and should be passed to the next call for the same w.

next_w is a new array of the dtype of w; w itself is not modified. The solvers
look the rules up by name, e.g. ``getattr(optim, 'adam')``.
"""
import numpy as np


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: w - learning_rate * dw.

    config:
    - learning_rate: scalar, default 1e-2
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)

    next_w = w - config["learning_rate"] * dw
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum.

    v = momentum * v - learning_rate * dw;  next_w = w + v

    config:
    - learning_rate: scalar, default 1e-2
    - momentum: scalar in [0, 1), default 0.9 (0 gives plain sgd)
    - velocity: array like w, the running velocity v (starts at zero)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))

    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """RMSProp: divide each step by a moving average of the squared gradient.

    cache = decay_rate * cache + (1 - decay_rate) * dw**2
    next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    config:
    - learning_rate: scalar, default 1e-2
    - decay_rate: scalar in [0, 1), default 0.99
    - epsilon: small scalar that avoids division by zero, default 1e-8
    - cache: array like w, the moving average of dw**2 (starts at zero)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))

    decay = config["decay_rate"]
    cache = decay * config["cache"] + (1 - decay) * (dw * dw)
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config


def adam(w, dw, config=None):
    """Adam: moving averages of the gradient and of its square, bias-corrected.

    t = t + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    next_w = w - learning_rate * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + epsilon)

    config:
    - learning_rate: scalar, default 1e-3
    - beta1: decay rate of the first moment, default 0.9
    - beta2: decay rate of the second moment, default 0.999
    - epsilon: small scalar that avoids division by zero, default 1e-8
    - m, v: arrays like w, the moving averages (start at zero)
    - t: number of steps taken so far (starts at 0; the first update uses t = 1)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)

    beta1, beta2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = beta1 * config["m"] + (1 - beta1) * dw
    v = beta2 * config["v"] + (1 - beta2) * (dw * dw)
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config.update(t=t, m=m, v=v)
    return next_w, config
