"""Fairness corpus, lstm part: see tests/fairness/__init__.py.

Every alternative keeps the reference's cache layouts (see tests/fairness/rnn.py):
an LSTM step cache is ``(x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh(next_c))``
and a sequence cache is the list of its step caches. The model's alternatives
(``CaptioningRNN.loss`` and ``sample``) are in the rnn part: they serve both cells.
"""
from fairness.alternative import Alternative, Degenerate

L = "cs231n/rnn_layers.py:"

ALTERNATIVES = [
    Alternative(
        "lstm-step-forward-np-split-inline-sigmoid", L + "lstm_step_forward", '''
        def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
            a = np.matmul(x, Wx) + np.matmul(prev_h, Wh) + b
            a_i, a_f, a_o, a_g = np.split(a, 4, axis=-1)
            i = 1.0 / (1.0 + np.exp(-a_i))
            f = 1.0 / (1.0 + np.exp(-a_f))
            o = 1.0 / (1.0 + np.exp(-a_o))
            g = np.tanh(a_g)
            next_c = f * prev_c + i * g
            tanh_c = np.tanh(next_c)
            next_h = o * tanh_c
            cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)
            return next_h, next_c, cache
        ''', "np.split into four gates, the logistic function written inline"),
    Alternative(
        "lstm-step-forward-tanh-sigmoid-einsum", L + "lstm_step_forward", '''
        def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
            H = prev_h.shape[-1]
            a = np.einsum("...d,dk->...k", x, Wx) + np.einsum("...h,hk->...k", prev_h, Wh) + b
            gates = 0.5 * (np.tanh(0.5 * a[..., :3 * H]) + 1.0)  # the logistic function via tanh
            i, f, o = gates[..., 0:H], gates[..., H:2 * H], gates[..., 2 * H:3 * H]
            g = np.tanh(a[..., 3 * H:4 * H])
            next_c = prev_c * f + g * i
            tanh_c = np.tanh(next_c)
            next_h = tanh_c * o
            return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)
        ''', "einsum, sigmoid(a) = (1 + tanh(a / 2)) / 2, gates sliced by H"),
    Alternative(
        "lstm-step-backward-in-place-dnext-c", L + "lstm_step_backward", '''
        def lstm_step_backward(dnext_h, dnext_c, cache):
            x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
            dnext_c += dnext_h * o * (1 - tanh_c ** 2)  # the caller's array collects both paths
            d_i = dnext_c * g * i * (1 - i)
            d_f = dnext_c * prev_c * f * (1 - f)
            d_o = dnext_h * tanh_c * o * (1 - o)
            d_g = dnext_c * i * (1 - g ** 2)
            da = np.hstack((d_i, d_f, d_o, d_g))
            dprev_c = dnext_c * f
            dx = da.dot(Wx.T)
            dprev_h = da.dot(Wh.T)
            dWx = x.T.dot(da)
            dWh = prev_h.T.dot(da)
            db = np.sum(da, axis=0)
            return dx, dprev_h, dprev_c, dWx, dWh, db
        ''', "adds into dnext_c in place (dnext_c += ...), np.hstack of the gate gradients"),
    Alternative(
        "lstm-step-backward-float32", L + "lstm_step_backward", '''
        def lstm_step_backward(dnext_h, dnext_c, cache):
            x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = [np.asarray(a, dtype=np.float32) for a in cache]
            dh = dnext_h.astype(np.float32)
            dc = dnext_c.astype(np.float32) + dh * o * (1 - tanh_c * tanh_c)
            da = np.empty((dh.shape[0], 4 * dh.shape[1]), dtype=np.float32)
            H = dh.shape[1]
            da[:, :H] = dc * g * i * (1 - i)
            da[:, H:2 * H] = dc * prev_c * f * (1 - f)
            da[:, 2 * H:3 * H] = dh * tanh_c * o * (1 - o)
            da[:, 3 * H:] = dc * i * (1 - g * g)
            return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(0)
        ''', "computes the step's gradients in float32"),
    Alternative(
        "lstm-forward-list-stack", L + "lstm_forward", '''
        def lstm_forward(x, h0, Wx, Wh, b):
            hs, cache = [], []
            h_t, c_t = h0, np.zeros(h0.shape)
            for t in range(x.shape[1]):
                h_t, c_t, step = lstm_step_forward(x[:, t, :], h_t, c_t, Wx, Wh, b)
                hs.append(h_t)
                cache.append(step)
            return np.stack(hs, axis=1), cache
        ''', "a list of hidden states stacked at the end, c0 from np.zeros"),
    Alternative(
        "lstm-backward-step-loop", L + "lstm_backward", '''
        def lstm_backward(dh, cache):
            N, T, H = dh.shape
            D = cache[0][0].shape[1]
            dx = np.zeros((N, T, D))
            dWx = np.zeros((D, 4 * H))
            dWh = np.zeros((H, 4 * H))
            db = np.zeros(4 * H)
            dh_prev = np.zeros((N, H))
            dc_prev = np.zeros((N, H))
            for t in reversed(range(T)):
                dx_t, dh_prev, dc_prev, dWx_t, dWh_t, db_t = lstm_step_backward(
                    dh[:, t, :] + dh_prev, dc_prev, cache[t])
                dx[:, t, :] = dx_t
                dWx += dWx_t
                dWh += dWh_t
                db += db_t
            dh0 = dh_prev
            return dx, dh0, dWx, dWh, db
        ''', "lstm_step_backward in a loop, weight gradients accumulated with +="),
    Alternative(
        "lstm-backward-float32-throughout", L + "lstm_backward", '''
        def lstm_backward(dh, cache):
            dh = dh.astype(np.float32)
            N, T, H = dh.shape
            D = cache[0][0].shape[1]
            f32 = np.float32
            dx = np.zeros((N, T, D), f32)
            dWx, dWh, db = np.zeros((D, 4 * H), f32), np.zeros((H, 4 * H), f32), np.zeros(4 * H, f32)
            dnext_h, dnext_c = np.zeros((N, H), f32), np.zeros((N, H), f32)
            for t in range(T - 1, -1, -1):
                x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = [a.astype(f32) for a in cache[t]]
                dnext_h = dnext_h + dh[:, t]
                dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
                da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                                     dnext_h * tanh_c * o * (1 - o), dc * i * (1 - g ** 2)], axis=1)
                dx[:, t] = da @ Wx.T
                dWx += x.T @ da
                dWh += prev_h.T @ da
                db += da.sum(axis=0)
                dnext_h = da @ Wh.T
                dnext_c = dc * f
            return dx, dnext_h, dWx, dWh, db
        ''', "the whole backward pass in float32"),
]

DEGENERATE = [
    Degenerate(
        "lstm-step-forward-zeros", L + "lstm_step_forward", '''
        def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
            z = np.zeros_like(prev_h)
            return z, z, (x, prev_h, prev_c, Wx, Wh, z, z, z, z, z)
        ''', zero=("lstm_step_forward", "lstm_forward", "captioning_lstm_sample"),
        what="zero hidden and cell states"),
    Degenerate(
        "lstm-step-forward-unchanged-state", L + "lstm_step_forward", '''
        def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
            z = np.zeros_like(prev_h)
            return prev_h, prev_c, (x, prev_h, prev_c, Wx, Wh, z, z, z, z, z)
        ''', zero=("lstm_step_forward", "lstm_forward"), what="the previous states, unchanged"),
    Degenerate(
        "lstm-backward-nan", L + "lstm_backward", '''
        def lstm_backward(dh, cache):
            N, T, H = dh.shape
            D = cache[0][0].shape[1]
            nan = np.nan
            return (np.full((N, T, D), nan), np.full((N, H), nan), np.full((D, 4 * H), nan),
                    np.full((H, 4 * H), nan), np.full(4 * H, nan))
        ''', zero=("lstm_backward",), what="NaN gradients"),
    Degenerate(
        "lstm-step-backward-zeros", L + "lstm_step_backward", '''
        def lstm_step_backward(dnext_h, dnext_c, cache):
            x, prev_h, prev_c, Wx, Wh = cache[:5]
            return (np.zeros_like(x), np.zeros_like(prev_h), np.zeros_like(prev_c),
                    np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wx.shape[1]))
        ''', zero=("lstm_step_backward",), what="all-zero gradients"),
]
