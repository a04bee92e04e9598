"""Test doubles that speak real protocols: a fake Binance USD-M exchange on 127.0.0.1 (``binance_http``)."""
