"""Adam, RMSprop and signGD in the coordinates (lr, a, b).

beta1 = 1 - b * lr and beta2 = 1 - a * lr; RMSprop uses only a (alpha = beta2).
"""

from optimizers.coords import ab_from_betas, betas_from_ab
from optimizers.torch_optim import Adam, RMSprop, SignGD

# The sweep coordinates each optimizer reads. The spec loader rejects a
# value given for a coordinate the optimizer ignores.
COORDINATES = {"adam": ("a", "b"), "rmsprop": ("a",), "signgd": ()}

__all__ = ["Adam", "RMSprop", "SignGD", "COORDINATES", "ab_from_betas",
           "betas_from_ab"]
