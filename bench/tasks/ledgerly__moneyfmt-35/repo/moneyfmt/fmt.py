from decimal import ROUND_HALF_UP, Decimal

from .registry import currency


def format_money(amount, code):
    info = currency(code)
    places = info["decimals"]
    quant = Decimal(1).scaleb(-places)
    value = Decimal(str(amount)).quantize(quant, rounding=ROUND_HALF_UP)
    number = f"{value:,.{places}f}"
    if info["symbol_first"]:
        return f"{info['symbol']}{number}"
    return f"{number} {info['symbol']}"
