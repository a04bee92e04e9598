"""Quantum Trader: multi-asset crypto perpetual futures under a measured risk framework.

The package is layered (see DESIGN.md): ``domain`` and ``config`` at the bottom, pure
logic (``signals``, ``universe``, ``risk``, ``portfolio``) in the middle, I/O at the
edges (``data``, ``venues``, ``journal``, ``monitor``), and ``engine``/``cli`` on top.
"""

__version__ = "0.1.0"
