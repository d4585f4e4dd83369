"""Conformance kits for code that extends genzoo.

`check_bijector` tests a `distrax.Bijector` against the bijector contract (`genzoo.testing.bijectors`);
`check_task` tests a model family's task against the task contract (`genzoo.testing.tasks`).
"""

from genzoo.testing.bijectors import DEFAULT_TOLERANCES, check_bijector, dense_log_det
from genzoo.testing.tasks import check_task, random_batch

__all__ = ["DEFAULT_TOLERANCES", "check_bijector", "check_task", "dense_log_det", "random_batch"]
