"""Fixture repositories for the tools tests, written into temporary directories.

`make_repo(path, files)` writes files and commits them in a fresh git repository.
`shop_files()` is a small Python package with a cross-file bug: tests/test_cart.py fails
because shop/discounts.py treats a percentage as a fraction; the test reaches that file only
through shop/cart.py -> shop/pricing.py. `ledger_files()` has a bug that raises inside
ledger/rates.py, so the file shows up in the traceback. `geometry_js_files()` is a Node
project whose failing test reaches the buggy src/units.js through src/shapes.js.
"""

from __future__ import annotations

from pathlib import Path

from repo_helpers import git, write_tree


def make_repo(root: Path, files: dict[str, str], *, commit: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write_tree(root, files)
    if commit:
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
    return root


def shop_files(*, deep: bool = False) -> dict[str, str]:
    """The shop package. `deep` puts shop/pricing.py between the cart and the buggy discounts."""
    files = {
        "shop/__init__.py": "",
        "shop/models.py": (
            "from dataclasses import dataclass\n\n\n"
            "@dataclass\nclass Item:\n    name: str\n    price: float\n    quantity: int = 1\n"
            "    discount_pct: float = 0.0\n"
        ),
        "shop/discounts.py": (
            "def clamp_percentage(value):\n    return max(0.0, min(100.0, value))\n\n\n"
            "def apply_discount(amount, percent):\n"
            "    percent = clamp_percentage(percent)\n"
            "    return round(amount * (1 - percent), 2)\n"
        ),
        "shop/pricing.py": (
            "from shop.discounts import apply_discount\n\n\n"
            "def line_total(item):\n"
            "    return apply_discount(item.price * item.quantity, item.discount_pct)\n\n\n"
            "def tax_for(amount, rate=0.2):\n    return round(amount * rate, 2)\n"
        ),
        "shop/cart.py": (
            "from shop.pricing import line_total, tax_for\n\n\n"
            "class Cart:\n"
            "    def __init__(self):\n        self.items = []\n\n"
            "    def add_item(self, item):\n        self.items.append(item)\n        return self\n\n"
            "    def subtotal(self):\n        return sum(line_total(item) for item in self.items)\n\n"
            "    def total_with_tax(self):\n"
            "        sub = self.subtotal()\n        return sub + tax_for(sub)\n"
        )
        if deep
        else (
            "from shop.discounts import apply_discount\nfrom shop.pricing import tax_for\n\n\n"
            "class Cart:\n"
            "    def __init__(self):\n        self.items = []\n\n"
            "    def add_item(self, item):\n        self.items.append(item)\n        return self\n\n"
            "    def subtotal(self):\n"
            "        return sum(apply_discount(i.price * i.quantity, i.discount_pct) for i in self.items)\n\n"
            "    def total_with_tax(self):\n"
            "        sub = self.subtotal()\n        return sub + tax_for(sub)\n"
        ),
        "shop/formatting.py": (
            "def money(amount, currency='EUR'):\n    return f'{amount:,.2f} {currency}'\n\n\n"
            "def receipt_lines(cart):\n"
            "    return [f'{item.name}: {money(item.price)}' for item in cart.items]\n"
        ),
        "shop/inventory.py": (
            "from shop.models import Item\n\n\n"
            "class Inventory:\n"
            "    def __init__(self):\n        self.stock = {}\n\n"
            "    def restock(self, name, price, count):\n"
            "        self.stock[name] = (Item(name, price), self.stock.get(name, (None, 0))[1] + count)\n\n"
            "    def available(self, name):\n        return self.stock.get(name, (None, 0))[1]\n"
        ),
        "shop/reports.py": (
            "from shop.cart import Cart\nfrom shop.formatting import money, receipt_lines\n\n\n"
            "def daily_report(carts):\n"
            "    total = sum(Cart.total_with_tax(c) for c in carts)\n"
            "    lines = [line for c in carts for line in receipt_lines(c)]\n"
            "    return lines + [money(total)]\n"
        ),
        "cli.py": (
            "from shop.cart import Cart\nfrom shop.inventory import Inventory\nfrom shop.models import Item\n"
            "from shop.reports import daily_report\n\n\n"
            "def main():\n    inventory = Inventory()\n    inventory.restock('pen', 1.5, 10)\n"
            "    cart = Cart().add_item(Item('pen', 1.5, 2))\n    print(daily_report([cart]))\n"
        ),
        "tests/test_cart.py": (
            "from shop.cart import Cart\nfrom shop.models import Item\n\n\n"
            "def test_subtotal_without_discount():\n"
            "    assert Cart().add_item(Item('pen', 2.0, 3)).subtotal() == 6.0\n\n\n"
            "def test_subtotal_with_discount():\n"
            "    cart = Cart().add_item(Item('book', 20.0, 1, discount_pct=10))\n"
            "    assert cart.subtotal() == 18.0\n"
        ),
        "tests/test_formatting.py": (
            "from shop.formatting import money\n\n\n"
            "def test_money():\n    assert money(1234.5) == '1,234.50 EUR'\n"
        ),
        "tests/test_inventory.py": (
            "from shop.inventory import Inventory\n\n\n"
            "def test_restock_adds_up():\n    inv = Inventory()\n    inv.restock('pen', 1.0, 2)\n"
            "    inv.restock('pen', 1.0, 3)\n    assert inv.available('pen') == 5\n"
        ),
    }
    return files


def ledger_files() -> dict[str, str]:
    return {
        "ledger/__init__.py": "",
        "ledger/rates.py": (
            "RATES = {'EUR': 1.0, 'USD': 0.9, 'GBP': 1.15}\n\n\n"
            "def conversion_rate(currency):\n"
            "    return RATES[currency.lower()]\n"
        ),
        "ledger/accounts.py": (
            "from ledger.rates import conversion_rate\n\n\n"
            "class Account:\n"
            "    def __init__(self, name):\n        self.name = name\n        self.entries = []\n\n"
            "    def deposit(self, amount, currency='EUR'):\n"
            "        self.entries.append(amount * conversion_rate(currency))\n\n"
            "    def balance(self):\n        return round(sum(self.entries), 2)\n"
        ),
        "ledger/audit.py": (
            "from ledger.accounts import Account\n\n\n"
            "def audit_trail(account: Account):\n"
            "    return [f'{account.name}: {entry:.2f}' for entry in account.entries]\n"
        ),
        "ledger/export.py": (
            "import json\n\nfrom ledger.audit import audit_trail\n\n\n"
            "def export_json(account):\n    return json.dumps({'trail': audit_trail(account)})\n"
        ),
        "tests/test_accounts.py": (
            "from ledger.accounts import Account\n\n\n"
            "def test_deposit_in_dollars():\n"
            "    acc = Account('alice')\n    acc.deposit(100, 'USD')\n    assert acc.balance() == 90.0\n"
        ),
        "tests/test_export.py": (
            "from ledger.accounts import Account\nfrom ledger.export import export_json\n\n\n"
            "def test_export_empty():\n    assert export_json(Account('bob')) == '{\"trail\": []}'\n"
        ),
    }


def geometry_js_files() -> dict[str, str]:
    return {
        "package.json": (
            '{"name": "geometry", "version": "1.0.0", "scripts": {"test": "node test/shapes.test.js"}}\n'
        ),
        "src/units.js": (
            "function toRadians(degrees) {\n  return degrees * Math.PI / 360;\n}\n\n"
            "function toDegrees(radians) {\n  return radians * 180 / Math.PI;\n}\n\n"
            "module.exports = { toRadians, toDegrees };\n"
        ),
        "src/shapes.js": (
            "const { toRadians } = require('./units');\n\n"
            "class Sector {\n  constructor(radius, angleDegrees) {\n    this.radius = radius;\n"
            "    this.angle = angleDegrees;\n  }\n\n"
            "  arcLength() {\n    return this.radius * toRadians(this.angle);\n  }\n}\n\n"
            "function circleArea(radius) {\n  return Math.PI * radius * radius;\n}\n\n"
            "module.exports = { Sector, circleArea };\n"
        ),
        "src/format.js": (
            "function formatLength(value) {\n  return value.toFixed(3) + ' m';\n}\n\n"
            "module.exports = { formatLength };\n"
        ),
        "src/report.js": (
            "const { Sector, circleArea } = require('./shapes');\n"
            "const { formatLength } = require('./format');\n\n"
            "function describeSector(radius, angle) {\n"
            "  const arc = formatLength(new Sector(radius, angle).arcLength());\n"
            "  return arc + ' / ' + circleArea(radius);\n}\n\n"
            "module.exports = { describeSector };\n"
        ),
        "test/shapes.test.js": (
            "const assert = require('assert');\nconst { Sector } = require('../src/shapes');\n\n"
            "const quarter = new Sector(2, 90);\n"
            "const arc = quarter.arcLength().toFixed(6);\n"
            "assert.strictEqual(arc, Math.PI.toFixed(6), 'arcLength of a quarter');\n"
            "console.log('ok');\n"
        ),
    }
