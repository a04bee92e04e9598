"""The policy: typed, frozen, strict models and the default YAML stating the spec's numbers."""

from quantum_trader.config.loader import PolicyError, load_policy, parse_policy, policy_to_yaml
from quantum_trader.config.policy import Policy

__all__ = ["Policy", "PolicyError", "load_policy", "parse_policy", "policy_to_yaml"]
