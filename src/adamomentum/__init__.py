"""Reference reproduction of Pham, Dai and Li, *On Optimization Algorithms for
Recurrent Networks with Long Short-Term Memory*, and its AdaMomentum optimizer."""

from adamomentum.optim import AdaMomentum, HeavyBall, MomentumScheduler

__all__ = ["AdaMomentum", "HeavyBall", "MomentumScheduler"]
__version__ = "0.1.0"
