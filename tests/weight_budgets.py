"""Budgets of uploaded weights sized from a model, so tests hold whatever the default model weighs."""
import math


def budget_holding(model, copies: int) -> int:
    """A budget (whole MB, as DIGITDNN_UPLOADED_WEIGHTS_MB takes it) that holds `copies` of `model`'s weights and
    not one more."""
    from digitdnn import load_classifier

    weights_mb = sum(w.nbytes + b.nbytes for w, b, _ in load_classifier(model).layers) / 2**20
    return math.floor((copies + 0.5) * weights_mb)
