"""The journal's Alembic migrations, shipped inside the package so that an installed quantum-trader can upgrade
its journal (``quantum-trader journal upgrade``; the first write does it by itself).

``env.py`` runs on the connection :mod:`quantum_trader.journal.migrate` hands it, inside that
connection's transaction; ``versions/`` holds one module per revision, frozen once released.
"""
