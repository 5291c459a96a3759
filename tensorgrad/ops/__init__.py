"""Op families. Each module holds ops as classes with forward and backward side by side,
and the functional entry points (``tensorgrad.exp``, ``Tensor.exp``) that build them."""
