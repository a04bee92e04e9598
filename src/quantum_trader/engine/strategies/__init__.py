"""The strategies we ship: each decides bar by bar (``on_bar``) and, as an accelerator, in batch (``prepare``)."""

from quantum_trader.engine.strategies.multi_asset import MultiAssetDecisions, MultiAssetStrategy
from quantum_trader.engine.strategies.sma_cross import SmaCrossDecisions, SmaCrossStrategy

__all__ = ["MultiAssetDecisions", "MultiAssetStrategy", "SmaCrossDecisions", "SmaCrossStrategy"]
