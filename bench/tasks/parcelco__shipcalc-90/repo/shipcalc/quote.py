import math

from .zones import load_rates, zone_of


def quote(country, weight_kg, rates=None):
    """Price of one parcel to `country`, rounded to cents."""
    if weight_kg <= 0:
        raise ValueError("weight must be positive")
    rates = rates or load_rates()
    zone = rates[zone_of(country, rates)]
    price = zone.getfloat("base")
    extra = weight_kg - zone.getfloat("max_kg")
    if extra > 0:
        price += math.ceil(extra) * zone.getfloat("per_extra_kg")
    return round(price, 2)
