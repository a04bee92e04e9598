"""The simulated perpetuals venue: one small model per cost or mechanism.

Each model is a pure function of prices and sizes so the engine can call it from its
loop without allocation, and each is tested alone (gap through a stop, a bar touching
stop and target, funding sign by side, liquidation, maker vs taker fees).
"""
