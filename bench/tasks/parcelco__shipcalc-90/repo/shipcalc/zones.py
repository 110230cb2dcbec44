import configparser
from pathlib import Path

RATES_FILE = Path(__file__).with_name("rates.ini")


def load_rates(path=RATES_FILE):
    parser = configparser.ConfigParser()
    parser.read(path, encoding="utf-8")
    return parser


def zone_of(country, rates):
    country = country.upper()
    for zone, members in rates["zones"].items():
        if country in members.split():
            return zone
    return "international"
