"""One module per revision: ``r0001`` today's phase tables, ``r0002`` the trading session's tables."""
