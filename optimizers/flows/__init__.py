"""Continuous-time limits of Adam, RMSprop and signGD, and discrete runs.

fields:    the flows' right-hand sides and Jacobians on a flat state.
solve:     integrate_flow, which samples a flow at given times.
discrete:  run_discrete, which records x at every step, and Limit: the
           rule by which the betas move as lr -> 0, and the flow it leads to.
"""

from optimizers.flows.discrete import Limit, run_discrete, steps_for
from optimizers.flows.fields import FIELDS
from optimizers.flows.solve import FlowPath, flat_loss, integrate_flow

__all__ = [
    "FIELDS",
    "FlowPath",
    "Limit",
    "flat_loss",
    "integrate_flow",
    "run_discrete",
    "steps_for",
]
