"""Rules for config values, checked before anything is loaded, compiled or written.

A rule says which values a key accepts, in words the error message repeats:

  check_config(config, {"optim.learning_rate": POSITIVE, "train.steps": at_least(1)})

raises `UserError("optim.learning_rate=-0.1 is not accepted: it must be a finite number > 0")`.
The runner and every model family declare their own table of rules next to their defaults.
"""

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from genzoo.errors import UserError


@dataclasses.dataclass(frozen=True)
class Rule:
  """`accepts(value)` is True for the values the key takes; `description` says which they are."""

  accepts: Callable[[Any], bool]
  description: str


def _is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def at_least(low: int) -> Rule:
  """A whole number >= `low`."""
  return Rule(lambda v: _is_int(v) and v >= low, f"a whole number >= {low}")


def whole_number_between(low: int, high: int) -> Rule:
  return Rule(lambda v: _is_int(v) and low <= v <= high, f"a whole number from {low} to {high}")


def finite_at_least(low: float) -> Rule:
  return Rule(lambda v: _is_real(v) and math.isfinite(v) and v >= low, f"a finite number >= {low:g}")


def fraction(upper_inclusive: bool) -> Rule:
  """A number in [0, 1] or [0, 1)."""
  if upper_inclusive:
    return Rule(lambda v: _is_real(v) and 0 <= v <= 1, "a number from 0 to 1")
  return Rule(lambda v: _is_real(v) and 0 <= v < 1, "a number >= 0 and < 1")


def one_of(choices) -> Rule:
  choices = tuple(choices)
  return Rule(lambda v: v in choices, "one of " + ", ".join(repr(c) for c in choices))


def optional(rule: Rule) -> Rule:
  """`rule`, or unset (None)."""
  return Rule(lambda v: v is None or rule.accepts(v), f"{rule.description}, or unset (None)")


POSITIVE = Rule(lambda v: _is_real(v) and math.isfinite(v) and v > 0, "a finite number > 0")
NON_NEGATIVE = finite_at_least(0)
POSITIVE_WIDTHS = Rule(
    lambda v: isinstance(v, (tuple, list)) and all(_is_int(w) and w >= 1 for w in v),
    "a tuple of whole numbers >= 1, e.g. (512, 256)")
NON_EMPTY_POSITIVE_WIDTHS = Rule(
    lambda v: POSITIVE_WIDTHS.accepts(v) and len(v) > 0, "a non-empty tuple of whole numbers >= 1, e.g. (32, 64)")


def check_variant(variant: str, experiment: str, variants) -> None:
  """Refuses a variant that the experiment file `experiments/<experiment>.py` does not define."""
  if variant not in variants:
    raise UserError(f"unknown variant {variant!r} of experiments/{experiment}.py; known: {list(variants)}")


def check_model_keys(config: Mapping, model_class, provided: tuple[str, ...] = (),
                     family_keys: tuple[str, ...] = ("name",), section: str = "model") -> None:
  """Refuses `<section>.*` keys that are not fields of the dataclass `model_class` (a Linen module
  built as `model_class(**config[section])`; None for a choice without settings); `provided` are
  the fields the family fills in itself, and `family_keys` the keys the family reads itself (the
  registry's "name")."""
  fields = set() if model_class is None else {field.name for field in dataclasses.fields(model_class)}
  fields = fields - {"parent", "name"} - set(provided)
  unknown = sorted(set(config[section]) - fields - set(family_keys))
  if unknown:
    owner = f"the {model_class.__name__} model" if model_class is not None else f"{section} {config[section]['name']!r}"
    raise UserError(f"{section}.{unknown[0]} is not a setting of {owner}; its settings: {sorted(fields)}")


def lookup(config: Mapping, dotted: str):
  """config["a"]["b"] for "a.b"; KeyError if a part is missing."""
  value = config
  for part in dotted.split("."):
    value = value[part]
  return value


def check_value(name: str, value, rule: Rule) -> None:
  """Raises `UserError` naming `name`, the value and what `rule` accepts, unless it accepts it."""
  if not rule.accepts(value):
    raise UserError(f"{name}={value!r} is not accepted: it must be {rule.description}")


def check_config(config: Mapping, rules: Mapping[str, Rule]) -> None:
  """`check_value` for every key of `rules`, in order. Keys the config lacks are skipped (a stored
  run from before the key existed)."""
  for key, rule in rules.items():
    try:
      value = lookup(config, key)
    except KeyError:
      continue
    check_value(key, value, rule)
