"""Hidden checks for the LSTM part: LSTM layers and CaptioningRNN with cell_type='lstm'.

Same patterns as the vanilla RNN checks (autograder/checks/rnn.py): small random
float64 problems with random shapes, every output compared with the reference
run on the same inputs, float32 arithmetic judged with a float32 bar. The gate
layout (i, f, o, g) is part of the interface, so a model that orders its gates
differently fails here.
"""
from autograder.checks.core import Spec, numpy_output, register
from autograder.checks.rnn import (GRAD_TOL, CaptioningLoss, CaptioningRnnSample, _ArrayCheck,
                                   gradients, rnn_problem)


@register
class LstmStepForward(_ArrayCheck):
    name = "lstm_step_forward"
    outputs = {"next_h": Spec("float", like="h0"), "next_c": Spec("float", like="c0")}

    def inputs(self, rng):
        return rnn_problem(rng, gates=4, with_time=False)

    def run(self, cs231n, i):
        out = cs231n.rnn_layers.lstm_step_forward(i["x"], i["h0"], i["c0"], i["Wx"], i["Wh"], i["b"])
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise TypeError("lstm_step_forward should return (next_h, next_c, cache)")
        next_h, next_c, _ = out
        return {"next_h": numpy_output(next_h, "next_h"), "next_c": numpy_output(next_c, "next_c")}


@register
class LstmStepBackward(_ArrayCheck):
    name = "lstm_step_backward"
    tol = GRAD_TOL
    outputs = {"dx": Spec("float", like="x"), "dprev_h": Spec("float", like="h0"),
               "dprev_c": Spec("float", like="c0"), "dWx": Spec("float", like="Wx"),
               "dWh": Spec("float", like="Wh"), "db": Spec("float", like="b")}

    def inputs(self, rng):
        return rnn_problem(rng, gates=4, with_time=False)

    def run(self, cs231n, i):
        layers = cs231n.rnn_layers
        _, _, cache = layers.lstm_step_forward(i["x"], i["h0"], i["c0"], i["Wx"], i["Wh"], i["b"])
        grads = layers.lstm_step_backward(i["dout"], i["dc"], cache)
        return gradients(grads, ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), "lstm_step_backward")


@register
class LstmForward(_ArrayCheck):
    name = "lstm_forward"
    outputs = {"h": Spec("float", like="dout")}

    def inputs(self, rng):
        return rnn_problem(rng, gates=4)

    def run(self, cs231n, i):
        h, _ = cs231n.rnn_layers.lstm_forward(i["x"], i["h0"], i["Wx"], i["Wh"], i["b"])
        return {"h": numpy_output(h, "h")}


@register
class LstmBackward(_ArrayCheck):
    name = "lstm_backward"
    tol = GRAD_TOL
    outputs = {"dx": Spec("float", like="x"), "dh0": Spec("float", like="h0"), "dWx": Spec("float", like="Wx"),
               "dWh": Spec("float", like="Wh"), "db": Spec("float", like="b")}

    def inputs(self, rng):
        return rnn_problem(rng, gates=4)

    def run(self, cs231n, i):
        layers = cs231n.rnn_layers
        _, cache = layers.lstm_forward(i["x"], i["h0"], i["Wx"], i["Wh"], i["b"])
        grads = layers.lstm_backward(i["dout"], cache)
        return gradients(grads, ("dx", "dh0", "dWx", "dWh", "db"), "lstm_backward")


@register
class CaptioningLstmLoss(CaptioningLoss):
    name = "captioning_lstm_loss"
    cell_type = "lstm"


@register
class CaptioningLstmSample(CaptioningRnnSample):
    name = "captioning_lstm_sample"
    cell_type = "lstm"
