"""tensorgrad.distributions: torch.distributions' names, parameters and formulas.

Distribution (batch_shape, event_shape, sample/rsample with a sample_shape, log_prob, entropy,
mean/mode/variance/stddev, support, expand, enumerate_support, validate_args); the univariate
Normal, Uniform, Exponential, Laplace, Gamma, Beta, Cauchy, StudentT, Chi2 and the transformed
LogNormal, HalfNormal, HalfCauchy, Gumbel, Weibull, Pareto; the discrete Bernoulli, Categorical,
OneHotCategorical, Poisson, Geometric, Binomial, NegativeBinomial, Multinomial; the relaxed
RelaxedBernoulli and RelaxedOneHotCategorical; the multivariate Dirichlet, MultivariateNormal,
LowRankMultivariateNormal; Independent, MixtureSameFamily and TransformedDistribution (with the
constraints and transforms modules); and kl_divergence with its register_kl registry.

log_prob, entropy and the moments are tensor ops, so they differentiate into the parameters;
rsample is reparameterized (Gamma, Beta, Dirichlet, Chi2 and StudentT implicitly, through dx/dalpha
of the Gamma sampler); sample() never records. Draws come from tensorgrad's generators on the
parameters' device. As in PyTorch, validate_args (default True) checks parameters when a
distribution is made and values given to log_prob, which reads the data (on CUDA, a wait for the GPU).
"""
from .continuous import Beta, Exponential, Gamma, Laplace, Normal, Uniform
from .discrete import Bernoulli, Categorical, OneHotCategorical, Poisson
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .multivariate import Dirichlet, Independent, MultivariateNormal
from . import constraints, transforms
from .transformed import TransformedDistribution
from .lowrank import LowRankMultivariateNormal
from .mixture import MixtureSameFamily
from .counts import Binomial, Geometric, Multinomial, NegativeBinomial
from .relaxed import ExpRelaxedCategorical, LogitRelaxedBernoulli, RelaxedBernoulli, RelaxedOneHotCategorical
from .univariate import Cauchy, Chi2, Gumbel, HalfCauchy, HalfNormal, LogNormal, Pareto, StudentT, Weibull

__all__ = ["Distribution", "Normal", "Uniform", "Exponential", "Laplace", "Gamma", "Beta", "Bernoulli",
           "Categorical", "OneHotCategorical", "Poisson", "Dirichlet", "MultivariateNormal", "Independent",
           "kl_divergence", "register_kl", "constraints", "transforms", "TransformedDistribution", "Cauchy", "Chi2",
           "Gumbel", "HalfCauchy", "HalfNormal", "LogNormal", "Pareto", "StudentT", "Weibull",
           "Binomial", "Geometric", "Multinomial", "NegativeBinomial", "ExpRelaxedCategorical", "LogitRelaxedBernoulli",
           "RelaxedBernoulli", "RelaxedOneHotCategorical", "LowRankMultivariateNormal", "MixtureSameFamily"]
