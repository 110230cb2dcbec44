"""cart: a shopping cart with coupons and shipping."""
