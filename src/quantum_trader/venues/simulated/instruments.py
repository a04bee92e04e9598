"""Contract precision for backtests: the exchange's when stored, a guess when not.

``instruments_with_fallback`` takes the instruments the exchange specifies (read from the
catalog by ``data.markets.stored_instruments``; this layer does not read the catalog
itself) and guesses only the symbols missing there, naming them for the data notes.

The guess: Binance USD-M quotes prices to about five significant digits and sizes in powers of
ten; we derive the same shape from the first price seen, so a synthetic asset trading
at 0.6 gets the tick a real 0.6 contract has, and orders are quantised like real ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from quantum_trader.domain.instrument import GUESSED_MIN_NOTIONAL, Instrument, guess_instrument
from quantum_trader.domain.symbols import asset_of

MIN_NOTIONAL = GUESSED_MIN_NOTIONAL
instrument_for = guess_instrument
"""The guess from a reference price (``domain.instrument.guess_instrument``)."""


def instrument_or_guess(symbol: str, known: Instrument | None, reference_price: float) -> tuple[Instrument, bool]:
    """The exchange's instrument when known, else the guess from ``reference_price``; True when guessed."""
    if known is not None:
        if known.symbol != symbol:
            raise ValueError(f"{symbol}: the exchange instrument given is for {known.symbol}")
        return known, False
    return instrument_for(symbol, reference_price), True


def instruments_with_fallback(first_close: Mapping[str, float], known: Mapping[str, Instrument]
                              ) -> tuple[dict[str, Instrument], list[str]]:
    """One instrument per symbol of ``first_close``: the exchange's from ``known``, else a guess.

    ``known`` is what the exchange specifies (``data.markets.stored_instruments``); the
    returned list names the symbols whose tick, lot and minimum notional were guessed, so
    the run can say so in its data notes (``guessed_note``).
    """
    instruments: dict[str, Instrument] = {}
    guessed: list[str] = []
    for symbol, price in first_close.items():
        instruments[symbol], was_guessed = instrument_or_guess(symbol, known.get(symbol), price)
        if was_guessed:
            guessed.append(symbol)
    return instruments, guessed


def guessed_note(guessed: Sequence[str], exchange: str) -> str | None:
    """The data-notes sentence for guessed instruments (None when every one came from the exchange)."""
    if not guessed:
        return None
    names = ", ".join(asset_of(s) for s in guessed)
    return (f"no {exchange} market metadata for {names}: tick size, lot size and minimum notional were guessed "
            f"from the first close (store the exchange's with `quantum-trader data markets --exchange {exchange}`)")
