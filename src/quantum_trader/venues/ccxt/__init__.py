"""A real exchange behind the engine's seams, through ccxt: Binance USD-M futures (``binanceusdm``), Bybit linear.

- ``connect``: the asynchronous ccxt exchange (rate limiter on, testnet through ``set_sandbox_mode``);
- ``credentials``: API keys from the environment or a private file, never printed (``Secret``, ``Redactor``);
- ``account``: one-way mode, margin mode and leverage set and verified before the first order;
- ``execution``: the ``ExecutionClient`` (orders out, fills back), with ``orders``, ``tracking``, ``ids``,
  ``rejections`` and ``retry`` (one idea each);
- ``feed``: closed candles, marks, funding and books as rows; ``clock``: the exchange's clock offset;
- ``incidents``: what went wrong and the halts it holds.

This layer imports only the pure layers (DESIGN.md); ``engine.live`` and ``analytics.live`` compose it with
the kernel.
"""
